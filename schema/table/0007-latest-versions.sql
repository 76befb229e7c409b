-- Each key's newest committed put/del, so that a scan reads one row per key
-- instead of every version kept for the GC lifetime (buildSnapshotRead in
-- src/txn/snapshot-read.ts): only keys committed after the scan's timestamp
-- are looked up in the versions table. Written by the commit statements
-- themselves (TableStorage.commitKeys), in the committing local transaction,
-- so a reader's snapshot sees a version and its latest row together or
-- neither; a key is committed in commit_ts order (its lock holds off newer
-- writers) and the upsert keeps the newer row anyway. A statement trigger
-- did the same at 3-5x the cost per commit. Clients from before this
-- migration do not write latest rows: upgrade every client together.
create table if not exists {{latest}} (
  {{pk_defs}},
  commit_ts bigint not null,
  op text not null check (op in ('put', 'del')),
  {{value_defs}}
  primary key ({{pk_list}})
) with (fillfactor = 70);

-- From the versions of a table stored before this migration.
insert into {{latest}} ({{pk_list}}, commit_ts, op{{value_list}})
select distinct on ({{pk_list}}) {{pk_list}}, commit_ts, op{{value_list}} from {{versions}}
where op in ('put', 'del') order by {{pk_list}}, commit_ts desc
on conflict do nothing;
