import { SQL } from 'drizzle-orm';
import type { getTableConfig, PgColumn } from 'drizzle-orm/pg-core';
import { SchemaError } from '../errors.js';
import { LONGEST_STORAGE_SUFFIX, refuseLongIdentifier } from './identifier-length.js';
import type { ColumnMeta, IndexMeta, TableMeta } from './table-types.js';

type TableConfig = ReturnType<typeof getTableConfig>;

/** What one declaration says, before it becomes an IndexMeta. */
interface Declared {
  readonly name: string;
  readonly unique: boolean;
  readonly nullsNotDistinct: boolean;
  readonly columns: readonly PgColumn[];
  /** How the user wrote it, for error messages. */
  readonly what: string;
}

/**
 * The secondary indexes and unique constraints a drizzle table declares:
 * `index()`, `uniqueIndex()`, table `unique()` and column `.unique()`. Each
 * becomes an IndexMeta whose storage is a table for the engine (see
 * IndexMeta in table-types.ts for its key and value). What this layer
 * cannot keep is refused with SchemaError, never ignored: expression
 * indexes, partial indexes (`.where()`), methods other than btree/hash
 * (their lookups are not equality), and `nullsNotDistinct()` on a nullable
 * column (NULL cannot be a key of the entries' storage). Physical options
 * (`concurrently`, `with`, per-column order and operator classes) change
 * nothing an index here answers and are accepted.
 */
export function describeIndexes(table: TableMeta, config: TableConfig): IndexMeta[] {
  const byColumn = new Map(table.columns.map((c) => [c.column as PgColumn, c]));
  const byName = new Map(table.columns.map((c) => [c.name, c]));
  const declared: Declared[] = [];
  for (const index of config.indexes) {
    const { name, columns, unique, where, method } = index.config;
    const names = columns.map((c) => (c instanceof SQL ? undefined : (c as { name?: string }).name));
    const indexName = name ?? `${config.name}_${names.map((n) => n ?? 'expr').join('_')}_index`;
    const what = `${unique ? 'uniqueIndex' : 'index'}(${JSON.stringify(indexName)})`;
    if (where) throw new SchemaError(`table ${config.name}: ${what} is partial (.where()); partial indexes are not supported`);
    if (method !== undefined && method !== 'btree' && method !== 'hash') {
      throw new SchemaError(`table ${config.name}: ${what} uses ${method}; only btree and hash indexes (equality lookups) are supported`);
    }
    const pgColumns = names.map((n) => {
      const column = n === undefined ? undefined : byName.get(n);
      if (!column) throw new SchemaError(`table ${config.name}: ${what} indexes an expression; only indexes on columns are supported`);
      return column.column;
    });
    declared.push({ name: indexName, unique, nullsNotDistinct: false, columns: pgColumns, what });
  }
  for (const constraint of config.uniqueConstraints) {
    const name = constraint.getName() ?? `${config.name}_${constraint.columns.map((c) => c.name).join('_')}_unique`;
    declared.push({ name, unique: true, nullsNotDistinct: constraint.nullsNotDistinct, columns: constraint.columns, what: `unique(${JSON.stringify(name)})` });
  }
  for (const column of config.columns) {
    if (!column.isUnique) continue;
    const name = column.uniqueName ?? `${config.name}_${column.name}_unique`;
    declared.push({ name, unique: true, nullsNotDistinct: column.uniqueType === 'not distinct', columns: [column], what: `column ${column.name}.unique()` });
  }

  const indexes: IndexMeta[] = [];
  const names = new Set<string>();
  for (const d of declared) {
    if (names.has(d.name)) throw new SchemaError(`table ${config.name}: two indexes or constraints are named ${d.name}`);
    names.add(d.name);
    const columns = d.columns.map((pg) => {
      const column = byColumn.get(pg) ?? byName.get(pg.name);
      if (!column) throw new SchemaError(`table ${config.name}: ${d.what} names column ${pg.name}, which is not a column of the table`);
      return column;
    });
    if (d.nullsNotDistinct) {
      const nullable = columns.find((c) => !c.notNull);
      if (nullable) throw new SchemaError(`table ${config.name}: ${d.what} is nullsNotDistinct() on the nullable column ${nullable.name}; not supported (declare the column notNull(), or drop nullsNotDistinct())`);
    }
    const index = { name: d.name, unique: d.unique, table, columns } as unknown as { -readonly [K in keyof IndexMeta]: IndexMeta[K] };
    index.storage = indexStorage(table, index, d.what);
    indexes.push(index);
  }
  return indexes;
}

/**
 * The index's storage as a table for the engine: the indexed columns lead
 * the key and form the shard key; the table's own columns (same keys,
 * names, types), so entries read back as parts of rows, and filters over
 * the table's columns run on them (aliased as the table).
 */
function indexStorage(table: TableMeta, index: IndexMeta, what: string): TableMeta {
  // Index names are unique in a Postgres schema, as here (no two storages share a name); drizzle's default ones already name the table.
  const name = `${index.name}__idx`;
  refuseLongIdentifier(index.name, `__idx${LONGEST_STORAGE_SUFFIX}`, () => `table ${table.name}: ${what}: index name`);
  const rest = table.primaryKey.filter((c) => !index.columns.includes(c));
  const columns: ColumnMeta[] = [...index.columns, ...rest];
  const primaryKey = index.unique ? index.columns : columns;
  return {
    name,
    table: table.table,
    columns,
    columnsByKey: new Map(columns.map((c) => [c.key, c])),
    primaryKey,
    shardKey: index.columns,
    versionsTable: `${name}__versions`,
    locksTable: `${name}__locks`,
    latestTable: `${name}__latest`,
    alias: table.name,
    indexes: [],
    indexOf: index,
  };
}
