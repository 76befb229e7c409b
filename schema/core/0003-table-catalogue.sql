-- The catalogue of the user tables stored on this shard: for each, its key
-- columns (in key order) with their storage types, how many of them form the
-- shard key, and its other columns. Lock resolution and version GC build
-- their statements from it (src/shard/table-catalogue.ts), so a client
-- decides and collects the locks and versions of every table stored here,
-- not only of the tables in its own schema. Each table's migration
-- (schema/table/0008-table-catalogue.sql) writes its row.
create table if not exists percolator_tables (
  name text primary key,
  key_columns text[] not null,
  key_types text[] not null,
  -- null: unknown (a row filled in below from the storage tables alone); the
  -- table's own migration sets it. A table whose shard key is unknown cannot
  -- be located as a transaction's primary.
  shard_key_length int check (shard_key_length between 1 and cardinality(key_columns)),
  value_columns text[] not null,
  value_types text[] not null,
  updated_at timestamptz not null default now()
);

-- Tables stored before this migration: their columns and types from the
-- storage tables themselves (key: the locks table's primary key; values: the
-- versions table's columns minus key and bookkeeping). Their shard key is not
-- stored anywhere: left unknown until a client that knows the table migrates it.
insert into percolator_tables (name, key_columns, key_types, shard_key_length, value_columns, value_types)
select t.name,
  array(select a.attname::text from unnest(i.indkey::int2[]) with ordinality k(attnum, n)
    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum order by k.n),
  array(select format_type(a.atttypid, a.atttypmod) from unnest(i.indkey::int2[]) with ordinality k(attnum, n)
    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum order by k.n),
  null,
  array(select a.attname::text from pg_attribute a where a.attrelid = v.oid and a.attnum > 0 and not a.attisdropped
    and a.attname not in (select b.attname from pg_attribute b where b.attrelid = l.oid and b.attnum = any(i.indkey::int2[]))
    and a.attname not in ('commit_ts', 'start_ts', 'op') order by a.attnum),
  array(select format_type(a.atttypid, a.atttypmod) from pg_attribute a where a.attrelid = v.oid and a.attnum > 0 and not a.attisdropped
    and a.attname not in (select b.attname from pg_attribute b where b.attrelid = l.oid and b.attnum = any(i.indkey::int2[]))
    and a.attname not in ('commit_ts', 'start_ts', 'op') order by a.attnum)
from (select substring(m.name from '^table/(.*)/0001-storage$') as name from percolator_migrations m) t
join pg_class l on l.oid = to_regclass(quote_ident(t.name || '__locks'))
join pg_class v on v.oid = to_regclass(quote_ident(t.name || '__versions'))
join pg_index i on i.indrelid = l.oid and i.indisprimary
where t.name is not null
on conflict (name) do nothing;
