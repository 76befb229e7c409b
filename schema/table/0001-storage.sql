-- MVCC storage of one user table on one shard (see docs/DESIGN.md).
-- Placeholders in double braces are filled by src/schema/storage-ddl.ts:
-- quoted table names, the typed primary-key column definitions (not null),
-- the typed value column definitions (nullable, each followed by a comma)
-- and the primary-key column list.

-- Committed history: one row per key and commit. op 'put' carries the full
-- row image, 'del' means absent, 'rollback' marks a rolled-back transaction
-- at commit_ts = its start_ts (so its late prewrite or commit fails), 'lock'
-- records a committed lock-only key. Visible at ts: newest put/del with
-- commit_ts <= ts.
create table if not exists {{versions}} (
  {{pk_defs}},
  commit_ts bigint not null,
  start_ts bigint not null,
  op text not null check (op in ('put', 'del', 'rollback', 'lock')),
  {{value_defs}}
  primary key ({{pk_list}}, commit_ts)
);

-- In-flight writes: at most one lock per key. The row holds the pending
-- image, where the transaction's primary lives, and the TTL that lock
-- resolution judges by the clock of the primary's shard.
create table if not exists {{locks}} (
  {{pk_defs}},
  start_ts bigint not null,
  op text not null check (op in ('put', 'del', 'lock', 'rollback')),
  is_insert boolean not null default false,
  for_update boolean not null default false,
  primary_table text not null,
  primary_key text[] not null,
  ttl_ms bigint not null,
  written_at timestamptz not null default clock_timestamp(),
  {{value_defs}}
  primary key ({{pk_list}})
);

create index if not exists {{locks_start_index}} on {{locks}} (start_ts);
