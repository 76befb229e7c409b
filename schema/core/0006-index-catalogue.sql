-- Secondary indexes are tables of the catalogue too: index_of names the
-- table an index's storage belongs to (null for a user table). The
-- prewrite function of a table refuses writers whose schema lacks one of
-- the table's catalogued indexes (SchemaVersionError): a writer that skips
-- an index's entries would corrupt it. index_state is 'building' while an
-- index created on a table with rows is filled in (readers do not use it
-- yet), null once complete. index_valid_from is the first timestamp whose
-- snapshots see every entry (set once complete): older snapshots do not
-- read through the index.
alter table percolator_tables add column if not exists index_of text;
alter table percolator_tables add column if not exists index_state text check (index_state in ('building'));
alter table percolator_tables add column if not exists index_valid_from bigint;
create index if not exists percolator_tables_index_of on percolator_tables (index_of) where index_of is not null;
