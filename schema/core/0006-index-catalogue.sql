-- Secondary indexes are tables of the catalogue too: index_of names the
-- table an index's storage belongs to (null for a user table). The
-- prewrite function of a table refuses writers whose schema lacks one of
-- the table's catalogued indexes (SchemaVersionError): a writer that skips
-- an index's entries would corrupt it.
alter table percolator_tables add column if not exists index_of text;
create index if not exists percolator_tables_index_of on percolator_tables (index_of) where index_of is not null;
