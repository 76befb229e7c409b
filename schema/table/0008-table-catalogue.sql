-- This table's row in the shard's table catalogue (schema/core/0003-table-catalogue.sql):
-- its key columns and storage types, the length of its shard key (a prefix
-- of the key) and its other columns, as the client that migrates it declares
-- them. Applied again whenever that text changes (a replaceable migration).
insert into percolator_tables as t (name, key_columns, key_types, shard_key_length, value_columns, value_types, index_of)
values ({{catalogue_name}}, {{catalogue_key_columns}}, {{catalogue_key_types}}, {{catalogue_shard_key_length}}, {{catalogue_value_columns}}, {{catalogue_value_types}}, {{catalogue_index_of}})
on conflict (name) do update set key_columns = excluded.key_columns, key_types = excluded.key_types, shard_key_length = excluded.shard_key_length,
  value_columns = excluded.value_columns, value_types = excluded.value_types, index_of = excluded.index_of, updated_at = now();
