-- Which slots' rows this shard holds without owning them, and for which
-- map versions (docs/DESIGN.md "Moving slots with data"). A read carries
-- the reader's map version v and leaves out the rows of slot s here unless
-- this shard owned s at v: s is in percolator_owned_slots with
-- since_version <= v, and s has no row here with foreign_from <= v.
--  foreign_from: the slot's rows here are foreign to readers at map
--    versions >= foreign_from: 0 for rows copied in ahead of a switch
--    (received, or a switch undone), the switch's version on the old owner
--    (frozen, then released, until its rows are deleted); null: none.
--  refuse_below: the rows of a released slot were deleted here; a reader at
--    a map version below it (its map says this shard owns the slot) is
--    refused (SQLSTATE PCSL1) and reads again with a newer map.
--  switch_ts: the oracle timestamp of the switch that released the slot;
--    its rows may be deleted once the GC safe point passes it.
create table if not exists percolator_foreign_slots (
  slot integer primary key check (slot >= 0 and slot < 4096),
  foreign_from bigint,
  refuse_below bigint not null default 0,
  switch_ts bigint
);

-- Every read asks whether anything changed after its map version: the
-- newest since_version, the oldest foreign_from and the newest refuse_below
-- are each one index probe, so the steady state (nothing changed) does not
-- scan these tables (src/shard/slot-read-filter.ts).
create index if not exists percolator_owned_slots_since on percolator_owned_slots (since_version);
create index if not exists percolator_foreign_slots_from on percolator_foreign_slots (foreign_from);
create index if not exists percolator_foreign_slots_refuse on percolator_foreign_slots (refuse_below);

-- Raised from inside a read (no row is returned): this shard deleted the
-- rows of `slot`, which the reader's map (older than `below`) says it owns.
-- Stable (it changes nothing), so the test that calls it stays a one-time
-- filter of the read's plan.
create or replace function percolator_refuse_stale_read(slot integer, below bigint, version bigint) returns integer
language plpgsql stable as $$
begin
  raise exception using errcode = 'PCSL1',
    message = format('this shard no longer holds slot %s for map version %s (it moved at version %s)', slot, version, below);
end
$$;

-- Raised by a read sent without its per-row slot filter (the steady state's
-- form) on a shard that holds rows of slots it did not own at the reader's
-- map version: the client sends the read again with the filter.
create or replace function percolator_rows_to_filter(version bigint) returns boolean
language plpgsql stable as $$
begin
  raise exception using errcode = 'PCSL3',
    message = format('this shard holds rows of slots it did not own at map version %s', version);
end
$$;

-- Deletes the stored rows of `slots` from every table this shard catalogues
-- (the mover's drop of released slots, or of copied rows of a switch that
-- did not happen). Refused for a slot this shard owns. Returns the rows deleted.
create or replace function percolator_delete_slot_rows(slots integer[]) returns bigint
language plpgsql volatile as $$
declare
  __owned integer;
  __table text;
  __part text;
  __n bigint;
  __total bigint := 0;
begin
  select o.slot into __owned from percolator_owned_slots o where o.slot = any(slots) limit 1;
  if __owned is not null then
    raise exception using errcode = 'PCSL2', message = format('slot %s is owned by this shard: its rows are not deleted', __owned);
  end if;
  for __table in select name from percolator_tables order by name loop
    foreach __part in array array['__versions', '__locks', '__latest'] loop
      execute format('delete from %I where slot = any($1)', __table || __part) using slots;
      get diagnostics __n = row_count;
      __total := __total + __n;
    end loop;
  end loop;
  update percolator_foreign_slots f set refuse_below = greatest(f.refuse_below, coalesce(f.foreign_from, 0)), foreign_from = null
    where f.slot = any(slots);
  delete from percolator_foreign_slots f where f.slot = any(slots) and f.refuse_below = 0;
  return __total;
end
$$;
