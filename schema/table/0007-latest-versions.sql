-- Each key's newest committed put/del, so that a scan reads one row per key
-- instead of every version kept for the GC lifetime (buildSnapshotRead in
-- src/txn/snapshot-read.ts): only keys committed after the scan's timestamp
-- are looked up in the versions table. Kept by a statement trigger on the
-- versions table, in the committing local transaction, so a reader's
-- snapshot sees a version and its latest row together or neither. Keys are
-- committed in commit_ts order (a key's lock holds off newer writers), and
-- the upsert keeps the newer row anyway.
create table if not exists {{latest}} (
  {{pk_defs}},
  commit_ts bigint not null,
  op text not null check (op in ('put', 'del')),
  {{value_defs}}
  primary key ({{pk_list}})
) with (fillfactor = 70);

create or replace function {{latest_function}}() returns trigger language plpgsql as $latest$
begin
  insert into {{latest}} as l ({{pk_list}}, commit_ts, op{{value_list}})
  select distinct on ({{pk_list}}) {{pk_list}}, commit_ts, op{{value_list}} from inserted
  where op in ('put', 'del') order by {{pk_list}}, commit_ts desc
  on conflict ({{pk_list}}) do update set commit_ts = excluded.commit_ts, op = excluded.op{{value_sets}}
    where l.commit_ts < excluded.commit_ts;
  return null;
end
$latest$;

-- Created before the backfill: it locks the versions table against
-- concurrent commits until this migration commits, so none is missed.
drop trigger if exists {{latest_trigger}} on {{versions}};
create trigger {{latest_trigger}} after insert on {{versions}} referencing new table as inserted
  for each statement execute function {{latest_function}}();

insert into {{latest}} ({{pk_list}}, commit_ts, op{{value_list}})
select distinct on ({{pk_list}}) {{pk_list}}, commit_ts, op{{value_list}} from {{versions}}
where op in ('put', 'del') order by {{pk_list}}, commit_ts desc
on conflict do nothing;
