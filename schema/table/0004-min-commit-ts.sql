-- A reader that meets a live lock does not wait for it: it raises the
-- primary lock's min_commit_ts past its own read timestamp (TiKV's
-- min_commit_ts). commitPrimary refuses a commit_ts below it and takes a
-- newer one, so the lock's owner can no longer commit inside the reader's
-- snapshot and the reader may read past its locks.
alter table {{locks}} add column if not exists min_commit_ts bigint not null default 0;
