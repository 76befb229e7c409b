import type { GetColumnData, SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';

/** The tables a user may query: the values of the schema object. */
export type SchemaTables<TSchema> = TSchema[keyof TSchema] & PgTable;

/** A partial selection: result keys mapped to columns of the queried table. */
export type SelectedFields = Record<string, PgColumn>;

/** The row type of a partial selection: each column's `$inferSelect` type. */
export type SelectedRow<TFields extends SelectedFields> = {
  [K in keyof TFields]: GetColumnData<TFields[K]>;
} & {};

/** What `insert().values()` accepts for a table (drizzle's `$inferInsert`). */
export type InsertRow<TTable extends PgTable> = TTable['$inferInsert'];

/** What `update().set()` accepts: any subset of the columns, each a value of its select type, a drizzle `sql` expression or a column of the table. */
export type UpdateSet<TTable extends PgTable> = {
  [K in keyof TTable['$inferSelect']]?: TTable['$inferSelect'][K] | SQL | PgColumn;
};

/** Result of a write without `.returning()`. */
export interface WriteResult {
  /** Rows inserted, updated or deleted. */
  rowCount: number;
}

/** Shard keys per table: for each schema entry, a prefix of its primary-key column keys. */
export type ShardKeys<TSchema> = {
  [K in keyof TSchema]?: TSchema[K] extends PgTable ? ReadonlyArray<keyof TSchema[K]['_']['columns'] & string> : never;
};
