import { createTableRelationsHelpers, extractTablesRelationalConfig, getTableName, Relations, type TablesRelationalConfig } from 'drizzle-orm';
import { isPgEnum, PgTable } from 'drizzle-orm/pg-core';
import { SchemaError } from '../errors.js';
import { ID_BLOCKS_TABLE, idBlocksTable } from '../schema/id-blocks-table.js';
import { describeTable, type TableMeta } from '../schema/table-meta.js';
import { isEntity } from './drizzle-entity.js';
import { generatedIdSpec, type GeneratedIdSpec } from './generated-id-spec.js';

/** @internal The user's schema: drizzle tables by property name, each described once. */
export class TableRegistry {
  private readonly byTable = new Map<PgTable, TableMeta>();
  private readonly generated = new Map<TableMeta, (readonly [string, GeneratedIdSpec])[]>();
  /** The allocator of serial and identity values, when some table has such a column. */
  readonly idBlocks: TableMeta | undefined;

  private relationalConfig: { tables: TablesRelationalConfig; tableNamesMap: Record<string, string> } | undefined;

  constructor(private readonly schema: Readonly<Record<string, unknown>>, shardKeys: Readonly<Record<string, readonly string[] | undefined>> = {}) {
    if (typeof schema !== 'object' || schema === null) throw new SchemaError('schema must be an object of drizzle pgTable definitions, e.g. { accounts, orders }');
    const names = new Map<string, string>();
    for (const [property, table] of Object.entries(schema)) {
      // `import * as schema` also brings relations() (only the query API uses them) and pgEnum()s (used through their columns).
      if (isEntity(table, Relations) || isPgEnum(table)) continue;
      if (!isEntity(table, PgTable)) throw new SchemaError(`schema.${property} is not a drizzle pgTable (nor relations() or a pgEnum)`);
      const meta = describeTable(table, { shardKey: shardKeys[property] });
      if (meta.name === ID_BLOCKS_TABLE) throw new SchemaError(`schema.${property}: the table name "${ID_BLOCKS_TABLE}" is reserved (the allocator of serial and identity values)`);
      for (const name of [meta.name, ...meta.indexes.map((i) => i.storage.name)]) {
        const clash = names.get(name);
        if (clash !== undefined) throw new SchemaError(`schema.${property} and schema.${clash} both name the SQL table "${name}" (an index's storage is <index>__idx; two indexes may not share a name, as in Postgres)`);
        names.set(name, property);
      }
      this.byTable.set(table, meta);
      const generated = meta.columns.flatMap((c) => {
        const spec = generatedIdSpec(meta, c);
        return spec ? [[c.key, spec] as const] : [];
      });
      if (generated.length > 0) this.generated.set(meta, generated);
    }
    this.idBlocks = this.generated.size > 0 ? describeTable(idBlocksTable) : undefined;
    for (const property of Object.keys(shardKeys)) {
      if (!(property in schema)) throw new SchemaError(`shardKeys.${property} names no table of the schema (tables: ${Object.keys(schema).join(', ')})`);
    }
    if (this.byTable.size === 0) throw new SchemaError('schema has no tables');
  }

  /** The schema's tables and their drizzle `relations()`, as drizzle's relational queries see them (by property name). */
  get relational(): { tables: TablesRelationalConfig; tableNamesMap: Record<string, string> } {
    try {
      this.relationalConfig ??= extractTablesRelationalConfig(this.schema as Record<string, unknown>, createTableRelationsHelpers);
    } catch (error) {
      throw new SchemaError(`the schema's relations(): ${(error as Error).message}`, { cause: error });
    }
    return this.relationalConfig;
  }

  /** The user's tables (their indexes' storage is in each meta's `indexes`). */
  get tables(): TableMeta[] {
    return [...this.byTable.values()];
  }

  /**
   * Every table with storage on the shards: the schema's, and the id
   * allocator's when needed (migrated and registered with them; the engine
   * adds each one's indexes' storage).
   */
  get storageTables(): TableMeta[] {
    return this.idBlocks ? [...this.tables, this.idBlocks] : this.tables;
  }

  /** The storage tables and their indexes' storage: every table the shards store for this schema. */
  get storedTables(): TableMeta[] {
    return this.storageTables.flatMap((meta) => [meta, ...meta.indexes.map((index) => index.storage)]);
  }

  /** The serial/identity columns of a table (column key and generation). */
  generatedIds(meta: TableMeta): readonly (readonly [string, GeneratedIdSpec])[] {
    return this.generated.get(meta) ?? [];
  }

  /** The meta of a table of the schema; SchemaError for anything else. */
  metaOf(table: unknown): TableMeta {
    const meta = isEntity(table, PgTable) ? this.byTable.get(table) : undefined;
    if (meta) return meta;
    const what = isEntity(table, PgTable) ? `table "${getTableName(table)}"` : `${String(table)} (not a drizzle table)`;
    throw new SchemaError(`${what} is not in the schema given to percolator() (tables: ${this.tables.map((t) => t.name).join(', ')})`);
  }
}
