import type { GetColumnData, SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';

/** The tables a user may query: the values of the schema object. */
export type SchemaTables<TSchema> = TSchema[keyof TSchema] & PgTable;

/** A partial selection: result keys mapped to columns of the queried table. */
export type SelectedFields = Record<string, PgColumn>;

/** What `select()` takes: columns of the queried table, drizzle aggregates (`count()`, `sum(col)`, ...) and group-by expressions. */
export type SelectFields = Record<string, PgColumn | SQL | SQL.Aliased>;

/** The row type of a select: each column's `$inferSelect` type, each SQL field's type (`count()`: number, `sum()`: string | null, ...). */
export type SelectResult<TFields extends SelectFields> = {
  [K in keyof TFields]: TFields[K] extends PgColumn ? GetColumnData<TFields[K]> : TFields[K] extends SQL<infer T> ? T : TFields[K] extends SQL.Aliased<infer T> ? T : never;
} & {};

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
