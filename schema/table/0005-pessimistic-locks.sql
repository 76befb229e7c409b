-- Pessimistic locks (`select ... for update`, docs/ISOLATION.md). A locking
-- read writes a lock row with op 'lock' and for_update = true before the
-- transaction commits; prewrite upgrades it in place (for_update = false).
--  for_update_ts: the timestamp the locking read read at (at least the
--    commit_ts of the newest version it returned). Prewrite of a key we hold
--    so treats only versions above it as write conflicts (not start_ts).
--  waiting_for_*: on a transaction's primary lock, the transaction it is
--    waiting for and that one's primary, so that waiters can follow the
--    chain of waits and find deadlocks.
alter table {{locks}} add column if not exists for_update_ts bigint not null default 0;
alter table {{locks}} add column if not exists waiting_for_ts bigint;
alter table {{locks}} add column if not exists waiting_for_table text;
alter table {{locks}} add column if not exists waiting_for_key text[];
