import { customType, pgTable, primaryKey, type PgColumn } from 'drizzle-orm/pg-core';
import { describeTable, type TableMeta } from '../schema/table-meta.js';
import type { ShardPool } from './shard-pool.js';
import { literal, storageType, textArray } from '../schema/sql-names.js';
import { TableStorage } from './table-storage.js';

/**
 * One row of a shard's table catalogue (`percolator_tables`, core migration
 * 0003-table-catalogue): what the protocol's statements need to know about a
 * table stored on the shard, without the user's drizzle table.
 */
export interface CatalogueEntry {
  readonly name: string;
  /** Key columns in key order, and their storage types. */
  readonly keyColumns: readonly string[];
  readonly keyTypes: readonly string[];
  /** How many leading key columns form the shard key; null: unknown (the table was catalogued from its storage alone). */
  readonly shardKeyLength: number | null;
  readonly valueColumns: readonly string[];
  readonly valueTypes: readonly string[];
  /** For an index's storage, the table it indexes. */
  readonly indexOf: string | null;
  /** Of the stored columns (schema-fingerprint.ts); null: recorded by no migrate() of a version that records it. */
  readonly columnsFingerprint: string | null;
}

/** The catalogue row of a table as its client declares it: the placeholders of schema/table/0008-table-catalogue.sql. */
export function catalogueRowVars(meta: TableMeta): Record<string, string> {
  const values = meta.columns.filter((c) => !meta.primaryKey.includes(c));
  return {
    catalogue_name: literal(meta.name),
    catalogue_key_columns: textArray(meta.primaryKey.map((c) => c.name)),
    catalogue_key_types: textArray(meta.primaryKey.map((c) => storageType(c.sqlType))),
    catalogue_shard_key_length: String(meta.shardKey.length),
    catalogue_value_columns: textArray(values.map((c) => c.name)),
    catalogue_value_types: textArray(values.map((c) => storageType(c.sqlType))),
    catalogue_index_of: meta.indexOf ? literal(meta.indexOf.table.name) : 'null',
  };
}

interface CatalogueRow {
  name: string;
  key_columns: string[];
  key_types: string[];
  shard_key_length: number | null;
  value_columns: string[];
  value_types: string[];
  index_of: string | null;
  columns_fingerprint: string | null;
}

const SELECT_CATALOGUE = 'select name, key_columns, key_types, shard_key_length, value_columns, value_types, index_of, columns_fingerprint from percolator_tables';

/** Every table catalogued on `shard` (a missing catalogue is a SchemaError from the pool: run migrate). */
export async function readCatalogue(shard: ShardPool): Promise<CatalogueEntry[]> {
  const { rows } = await shard.query<CatalogueRow>({ text: `${SELECT_CATALOGUE} order by name`, values: [] });
  return rows.map(toEntry);
}

/** One table's catalogue entry on `shard`, if catalogued there. */
export async function readCatalogueEntry(shard: ShardPool, name: string): Promise<CatalogueEntry | undefined> {
  const { rows } = await shard.query<CatalogueRow>({ text: `${SELECT_CATALOGUE} where name = $1`, values: [name] });
  return rows[0] && toEntry(rows[0]);
}

/** Every table catalogued on a shard, through a query of migrate()'s local transaction. */
export async function readCatalogueIn(query: (text: string, values: readonly unknown[]) => Promise<{ rows: unknown[] }>): Promise<CatalogueEntry[]> {
  const { rows } = await query(SELECT_CATALOGUE, []);
  return (rows as CatalogueRow[]).map(toEntry);
}

function toEntry(row: CatalogueRow): CatalogueEntry {
  return {
    name: row.name,
    keyColumns: row.key_columns,
    keyTypes: row.key_types,
    shardKeyLength: row.shard_key_length,
    valueColumns: row.value_columns,
    valueTypes: row.value_types,
    indexOf: row.index_of,
    columnsFingerprint: row.columns_fingerprint,
  };
}

/** A column that only carries its SQL type: its values are never mapped (keys travel as driver texts). */
const typedColumn = (type: string) => customType<{ data: string; driverData: string }>({ dataType: () => type });

/**
 * The storage statements of a catalogued table: a TableMeta over a drizzle
 * table rebuilt from the entry (names and storage types; the shard key as
 * catalogued, the whole key when unknown, which callers must not use to
 * place keys). Enough for every statement lock resolution and GC run;
 * not for reading or writing user values.
 */
export function catalogueStorage(entry: CatalogueEntry): TableStorage {
  const columns: Record<string, PgColumn> = {};
  const build = (key: string, name: string, type: string, notNull: boolean) => {
    const column = typedColumn(type)(name);
    columns[key] = (notNull ? column.notNull() : column) as unknown as PgColumn;
  };
  entry.keyColumns.forEach((name, i) => build(`k${i}`, name, entry.keyTypes[i]!, true));
  entry.valueColumns.forEach((name, i) => build(`v${i}`, name, entry.valueTypes[i]!, false));
  const keyNames = entry.keyColumns.map((_, i) => `k${i}`);
  const table = pgTable(entry.name, columns as never, (t: Record<string, PgColumn>) => [
    primaryKey({ columns: keyNames.map((k) => t[k]!) as [PgColumn, ...PgColumn[]] }),
  ]);
  const meta = describeTable(table, { shardKey: keyNames.slice(0, entry.shardKeyLength ?? keyNames.length) });
  return new TableStorage(meta);
}
