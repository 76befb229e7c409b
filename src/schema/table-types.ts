import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';

/**
 * What the layer knows about a table and its indexes (types only, so that
 * table-meta.ts and table-indexes.ts can share them without a cycle).
 */

export interface ColumnMeta {
  /** Property name in TypeScript (`$inferSelect` key). */
  readonly key: string;
  /** Column name in SQL. */
  readonly name: string;
  /** Postgres type as drizzle renders it in DDL, e.g. `integer`, `varchar(64)`, `numeric(12, 2)`. */
  readonly sqlType: string;
  readonly notNull: boolean;
  readonly hasDefault: boolean;
  readonly column: PgColumn;
}

/** What the layer knows about one user table: its columns, primary key and shard key. */
export interface TableMeta {
  /** The user's table name (for an index's storage: `<index>__idx`); the name lock rows record for their primary. */
  readonly name: string;
  readonly table: PgTable;
  readonly columns: readonly ColumnMeta[];
  readonly columnsByKey: ReadonlyMap<string, ColumnMeta>;
  readonly primaryKey: readonly ColumnMeta[];
  /** A prefix of the primary key (default: all of it); rows with equal shard keys live on one shard. */
  readonly shardKey: readonly ColumnMeta[];
  /** Storage tables on each shard. */
  readonly versionsTable: string;
  readonly locksTable: string;
  /** Each key's newest committed put/del (schema/table/0007-latest-versions.sql). */
  readonly latestTable: string;
  /** The name filters use for this storage's rows: the user's table name (also for an index's storage, whose columns are the table's). */
  readonly alias: string;
  /** The table's secondary indexes and unique constraints (table-indexes.ts); none for an index's own storage. */
  readonly indexes: readonly IndexMeta[];
  /** Set when this is the storage of a secondary index: the index. */
  readonly indexOf?: IndexMeta | undefined;
}

/**
 * A global secondary index (or unique constraint) of a table: a table of
 * its own for the engine (`storage`), whose keys are its entries.
 * - unique: key = the indexed columns, value = the row's primary-key
 *   columns that are not indexed;
 * - not unique: key = the indexed columns, then the primary-key columns
 *   not among them; no value.
 * Placed by a hash of the indexed columns (the storage's shard key), so an
 * equality lookup of all of them reads one shard. A row with a NULL in an
 * indexed column has no entry (NULLs never match `eq`, and never collide).
 */
export interface IndexMeta {
  /** The index or constraint name as declared, or drizzle's default one. */
  readonly name: string;
  readonly unique: boolean;
  /** The table the index belongs to. */
  readonly table: TableMeta;
  /** The indexed columns, in declaration order. */
  readonly columns: readonly ColumnMeta[];
  /** The entries' storage: a table for the engine, with its own versions, locks and latest rows. */
  readonly storage: TableMeta;
}
