import { getTableName } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
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

  constructor(schema: Readonly<Record<string, unknown>>, shardKeys: Readonly<Record<string, readonly string[] | undefined>> = {}) {
    if (typeof schema !== 'object' || schema === null) throw new SchemaError('schema must be an object of drizzle pgTable definitions, e.g. { accounts, orders }');
    const names = new Map<string, string>();
    for (const [property, table] of Object.entries(schema)) {
      if (!isEntity(table, PgTable)) throw new SchemaError(`schema.${property} is not a drizzle pgTable`);
      const meta = describeTable(table, { shardKey: shardKeys[property] });
      if (meta.name === ID_BLOCKS_TABLE) throw new SchemaError(`schema.${property}: the table name "${ID_BLOCKS_TABLE}" is reserved (the allocator of serial and identity values)`);
      const clash = names.get(meta.name);
      if (clash !== undefined) throw new SchemaError(`schema.${property} and schema.${clash} both name the SQL table "${meta.name}"`);
      names.set(meta.name, property);
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

  get tables(): TableMeta[] {
    return [...this.byTable.values()];
  }

  /** Every table with storage on the shards: the schema's, and the id allocator's when needed (migrated and registered with them). */
  get storageTables(): TableMeta[] {
    return this.idBlocks ? [...this.tables, this.idBlocks] : this.tables;
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
