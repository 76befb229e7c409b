import { getTableConfig, type PgColumn, type PgTable } from 'drizzle-orm/pg-core';
import type { ColumnMeta, TableMeta } from './table-types.js';
import { describeIndexes } from './table-indexes.js';
import { refuseUnsupported } from './unsupported-declarations.js';
import { SchemaError } from '../errors.js';
import { LONGEST_NAMED_STORAGE_SUFFIX, refuseLongIdentifier } from './identifier-length.js';
import { ident } from './sql-names.js';
import { enumOf } from './enum-types.js';

export type { ColumnMeta, IndexMeta, TableMeta } from './table-types.js';

/**
 * Describes a drizzle `pgTable` for the storage layer. `shardKey` names
 * column keys forming a prefix of the primary key.
 */
export function describeTable(table: PgTable, options: { shardKey?: readonly string[] } = {}): TableMeta {
  const config = getTableConfig(table);
  const keyOf = new Map<PgColumn, string>();
  for (const [key, column] of Object.entries(table as unknown as Record<string, unknown>)) {
    if (config.columns.includes(column as PgColumn)) keyOf.set(column as PgColumn, key);
  }
  const columns: ColumnMeta[] = config.columns.map((column) => ({
    key: keyOf.get(column) ?? column.name,
    name: column.name,
    sqlType: sqlTypeOf(config.name, column),
    notNull: column.notNull,
    hasDefault: column.hasDefault,
    column,
  }));
  const byName = new Map(columns.map((c) => [c.name, c]));
  const pkColumns = config.primaryKeys[0]?.columns ?? config.columns.filter((c) => c.primary);
  if (pkColumns.length === 0) throw new SchemaError(`table ${config.name} has no primary key; percolator needs one to version rows`);
  const primaryKey = pkColumns.map((c) => byName.get(c.name)!);
  const columnsByKey = new Map(columns.map((c) => [c.key, c]));

  let shardKey: ColumnMeta[] = primaryKey;
  if (options.shardKey) {
    shardKey = options.shardKey.map((k) => {
      const c = columnsByKey.get(k) ?? byName.get(k);
      if (!c) throw new SchemaError(`shard key of ${config.name} names unknown column ${k}`);
      return c;
    });
    const isPrefix = shardKey.length > 0 && shardKey.every((c, i) => primaryKey[i] === c);
    if (!isPrefix) {
      throw new SchemaError(
        `shard key of ${config.name} (${shardKey.map((c) => c.name).join(', ')}) must be a prefix of its primary key (${primaryKey.map((c) => c.name).join(', ')})`,
      );
    }
  }
  if (config.schema) throw new SchemaError(`table ${config.name}: pg schemas other than public are not supported yet`);
  refuseLongIdentifier(config.name, LONGEST_NAMED_STORAGE_SUFFIX, () => 'table');
  for (const c of columns) refuseLongIdentifier(c.name, '', () => `table ${config.name}: column`);
  refuseUnsupported(config);
  const meta: { -readonly [K in keyof TableMeta]: TableMeta[K] } = {
    name: config.name,
    table,
    columns,
    columnsByKey,
    primaryKey,
    shardKey,
    versionsTable: `${config.name}__versions`,
    locksTable: `${config.name}__locks`,
    latestTable: `${config.name}__latest`,
    alias: config.name,
    indexes: [],
  };
  meta.indexes = describeIndexes(meta, config);
  return meta;
}

/**
 * The column's type as storage DDL and casts spell it: drizzle's, with an
 * enum type's name quoted (drizzle leaves it bare; `migrate()` creates it).
 */
function sqlTypeOf(table: string, column: PgColumn): string {
  const type = column.getSQLType();
  const declared = enumOf(column);
  if (!declared) return type;
  if (declared.schema) throw new SchemaError(`table ${table}: column ${column.name} has enum type ${declared.schema}.${declared.enumName}; pg schemas other than public are not supported yet`);
  return type.startsWith(declared.enumName) ? ident(declared.enumName) + type.slice(declared.enumName.length) : type;
}
