-- Each stored row's slot (src/shard/shard-of.ts: the slot of its key's shard
-- key), so that a shard can hold rows of slots it does not own (copied in
-- ahead of a move, or released and not yet dropped) and reads can leave
-- them out (docs/DESIGN.md "Moving slots with data"). Every write fills
-- it: prewrite, the locking read and the resolver's placeholder write lock
-- rows with it, commit copies it from the lock row, rollback markers carry
-- it. Rows stored before this migration are filled in by migrate() (the
-- client computes the slots from the keys), which then sets it not null.
alter table {{versions}} add column if not exists slot smallint;
alter table {{locks}} add column if not exists slot smallint;
alter table {{latest}} add column if not exists slot smallint;
