-- Slots and fencing (src/shard/placement-map.ts, docs/DESIGN.md "Slots and
-- the placement map"). Keys hash into 4096 slots; the oracle's placement
-- map assigns each slot to a shard. Each shard records here the slots it
-- owns and since which map version. A prewrite for a slot this shard does
-- not own (a client with a stale map) fails with SQLSTATE PCSL1, which the
-- client answers by reading the map again and retrying. A slot being moved
-- away is first marked `frozen` (under an exclusive table lock, which waits
-- for prewrites in flight): from then on nothing new is locked in it here.
create table if not exists percolator_owned_slots (
  slot integer primary key check (slot >= 0 and slot < 4096),
  since_version bigint not null,
  frozen boolean not null default false
);

-- Called by every prewrite statement before its inserts (one statement, so
-- the table lock it takes lasts until the prewrite's locks are written).
create or replace function percolator_fence_slots(slots integer[]) returns boolean
language plpgsql volatile as $$
declare
  __refused integer;
begin
  select s into __refused from unnest(slots) s
    where not exists (select from percolator_owned_slots o where o.slot = s and not o.frozen) limit 1;
  if __refused is not null then
    raise exception using errcode = 'PCSL1',
      message = format('this shard does not own slot %s (it moved, or is moving, to another shard)', __refused);
  end if;
  return true;
end
$$;
