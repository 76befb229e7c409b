-- Schema versions (src/shard/schema-versions.ts). Each table's shape (its
-- columns and indexes) is numbered cluster-wide: migrate() records a new
-- version whenever the declaration it applies differs from the stored one,
-- in the same local transaction as the change on each shard.
--  schema_fingerprint: of the columns and the indexes (the version's identity);
--  columns_fingerprint: of the columns alone (what statements that copy rows
--    by column list depend on).
-- The history keeps every version's fingerprint, so a declaration seen
-- before is known as an older one: its writers are fenced, and its
-- migrate() leaves the table alone instead of undoing the change.
alter table percolator_tables add column if not exists schema_version int;
alter table percolator_tables add column if not exists schema_fingerprint text;
alter table percolator_tables add column if not exists columns_fingerprint text;
create table if not exists percolator_schema_versions (
  table_name text not null,
  version int not null,
  fingerprint text not null,
  recorded_at timestamptz not null default now(),
  primary key (table_name, version)
);

-- Refuses a writer of table t whose declaration is not the stored one
-- (SQLSTATE PCSV1, SchemaVersionError). writer: its schema and columns
-- fingerprints. The detail carries the table, the writer's version (or
-- 'unrecorded') and the stored one, for the client's error.
create or replace function percolator_refuse_writer(t text, writer text[]) returns void
language plpgsql as $refuse$
declare
  __stored int;
  __theirs int;
begin
  select c.schema_version into __stored from percolator_tables c where c.name = t;
  select max(h.version) into __theirs from percolator_schema_versions h where h.table_name = t and h.fingerprint = writer[1];
  raise exception using errcode = 'PCSV1',
    message = format('table %s is at schema version %s on this shard; this writer declares %s', t, __stored,
      coalesce('version ' || __theirs, 'a schema never migrated here')),
    detail = format('%s|%s|%s', t, coalesce(__theirs::text, ''), coalesce(__stored::text, ''));
end
$refuse$;

-- The schema fence of a prewrite: a writer whose declaration is an older
-- recorded version, or whose columns are not the stored ones, is refused.
-- A writer with the stored columns and an unrecorded declaration passes (it
-- declares an index whose migration is under way: the index fence in the
-- prewrite function decides about indexes).
create or replace function percolator_schema_fence(t text, writer text[]) returns void
language plpgsql as $fence$
declare
  __c record;
begin
  select c.schema_fingerprint, c.columns_fingerprint into __c from percolator_tables c where c.name = t;
  if __c.schema_fingerprint is null or __c.schema_fingerprint = writer[1] then return; end if;
  if __c.columns_fingerprint is distinct from writer[2]
    or exists (select from percolator_schema_versions h where h.table_name = t and h.fingerprint = writer[1]) then
    perform percolator_refuse_writer(t, writer);
  end if;
end
$fence$;

-- The fence of statements that copy lock rows into versions and latest rows
-- by column list (commit, roll forward): the list must be the stored one,
-- else nothing is written (SQLSTATE PCSV2) and the client builds the
-- statement again from the shard's catalogue. True when it passes.
create or replace function percolator_columns_fence(t text, columns text) returns boolean
language plpgsql stable as $fence$
declare
  __stored text;
begin
  select c.columns_fingerprint into __stored from percolator_tables c where c.name = t;
  if __stored is not null and __stored <> columns then
    raise exception using errcode = 'PCSV2',
      message = format('table %s: the statement copies another column list than this shard stores', t), detail = t;
  end if;
  return true;
end
$fence$;
