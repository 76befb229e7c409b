-- The journal of slot moves (src/txn/slot-move.ts, docs/DESIGN.md "Moving
-- slots with data"), kept on the destination shard of each move: the shard
-- that receives the rows is the one a rerun of the same move, and the step
-- that later drops the source's copy, look at. One row per move; `phase`
-- is the last step that completed. Moves are few and small: no index but
-- the key.
create table if not exists percolator_slot_moves (
  id bigserial primary key,
  from_shard integer not null,
  to_shard integer not null,
  slots integer[] not null,
  phase text not null check (phase in ('receiving', 'copying', 'frozen', 'switched', 'released', 'dropped', 'aborted')),
  -- The map version the switch moves to (source frozen for versions >= it).
  switch_version bigint,
  -- An oracle timestamp at or after the switch: the source's copy is dropped once its GC safe point passes it.
  switch_ts bigint,
  -- The source's snapshot (pg_snapshot text) before which every row of the slots is copied: the last copy takes what came after.
  copied_before text,
  rows_copied bigint not null default 0,
  started_at timestamptz not null default clock_timestamp(),
  updated_at timestamptz not null default clock_timestamp()
);
