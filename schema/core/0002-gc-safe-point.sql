-- Version GC (src/txn/version-gc.ts). Versions that no read at or above
-- safe_point can see are deleted in the same local transaction that raises
-- safe_point, and every read statement checks its timestamp against this
-- row in its own snapshot: a read either sees the old safe point and every
-- version it needs, or the new one and fails (SnapshotTooOldError), never a
-- history with holes. updated_at lets concurrent clients run GC once per
-- interval between them.
create table if not exists percolator_gc (
  singleton boolean primary key default true check (singleton),
  safe_point bigint not null,
  updated_at timestamptz not null default clock_timestamp()
);
insert into percolator_gc (safe_point, updated_at) values (0, '-infinity') on conflict do nothing;
