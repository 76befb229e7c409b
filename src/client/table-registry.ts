import { getTableName, Relations } from 'drizzle-orm';
import { isPgEnum, PgTable } from 'drizzle-orm/pg-core';
import { SchemaError } from '../errors.js';
import { describeTable, type TableMeta } from '../schema/table-meta.js';
import { isEntity } from './drizzle-entity.js';

/** @internal The user's schema: drizzle tables by property name, each described once. */
export class TableRegistry {
  private readonly byTable = new Map<PgTable, TableMeta>();

  constructor(schema: Readonly<Record<string, unknown>>, shardKeys: Readonly<Record<string, readonly string[] | undefined>> = {}) {
    if (typeof schema !== 'object' || schema === null) throw new SchemaError('schema must be an object of drizzle pgTable definitions, e.g. { accounts, orders }');
    const names = new Map<string, string>();
    for (const [property, table] of Object.entries(schema)) {
      // `import * as schema` also brings relations() (only the query API uses them) and pgEnum()s (used through their columns).
      if (isEntity(table, Relations) || isPgEnum(table)) continue;
      if (!isEntity(table, PgTable)) throw new SchemaError(`schema.${property} is not a drizzle pgTable (nor relations() or a pgEnum)`);
      const meta = describeTable(table, { shardKey: shardKeys[property] });
      for (const name of [meta.name, ...meta.indexes.map((i) => i.storage.name)]) {
        const clash = names.get(name);
        if (clash !== undefined) throw new SchemaError(`schema.${property} and schema.${clash} both name the SQL table "${name}" (an index's storage is <index>__idx; two indexes may not share a name, as in Postgres)`);
        names.set(name, property);
      }
      this.byTable.set(table, meta);
    }
    for (const property of Object.keys(shardKeys)) {
      if (!(property in schema)) throw new SchemaError(`shardKeys.${property} names no table of the schema (tables: ${Object.keys(schema).join(', ')})`);
    }
    if (this.byTable.size === 0) throw new SchemaError('schema has no tables');
  }

  /** The user's tables (their indexes' storage is in each meta's `indexes`). */
  get tables(): TableMeta[] {
    return [...this.byTable.values()];
  }

  /** Every table the shards store for this schema: the user's tables and their indexes' storage. */
  get storedTables(): TableMeta[] {
    return this.tables.flatMap((meta) => [meta, ...meta.indexes.map((index) => index.storage)]);
  }

  /** The meta of a table of the schema; SchemaError for anything else. */
  metaOf(table: unknown): TableMeta {
    const meta = isEntity(table, PgTable) ? this.byTable.get(table) : undefined;
    if (meta) return meta;
    const what = isEntity(table, PgTable) ? `table "${getTableName(table)}"` : `${String(table)} (not a drizzle table)`;
    throw new SchemaError(`${what} is not in the schema given to percolator() (tables: ${this.tables.map((t) => t.name).join(', ')})`);
  }
}
