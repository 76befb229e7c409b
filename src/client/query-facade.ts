import type { PgTable } from 'drizzle-orm/pg-core';
import { DeleteQuery } from './delete-builder.js';
import { InsertBuilder } from './insert-builder.js';
import type { QueryContext } from './query-context.js';
import { SelectBuilder } from './select-builder.js';
import type { SchemaTables, SelectedFields, WriteResult } from './types.js';
import { UpdateBuilder } from './update-builder.js';

/**
 * The query builders shared by the database and by a transaction (which is
 * itself a database, as in drizzle).
 */
export class QueryFacade<TSchema> {
  /** @internal */
  constructor(protected readonly context: QueryContext) {}

  /**
   * Read rows: whole rows, or a partial selection `{ alias: table.column }`.
   * @example
   * const [a] = await tx.select().from(accounts).where(eq(accounts.id, 1));
   * const ids = await db.select({ id: orders.id }).from(orders).where(eq(orders.accountId, 1));
   */
  select(): SelectBuilder<TSchema, undefined>;
  select<TFields extends SelectedFields>(fields: TFields): SelectBuilder<TSchema, TFields>;
  select(fields?: SelectedFields): SelectBuilder<TSchema, SelectedFields | undefined> {
    return new SelectBuilder(this.context, fields);
  }

  /**
   * @example
   * await db.insert(accounts).values([{ id: 1, balance: 100 }, { id: 2, balance: 50 }]);
   */
  insert<TTable extends SchemaTables<TSchema>>(table: TTable): InsertBuilder<TTable> {
    return new InsertBuilder(this.context, table);
  }

  /**
   * @example
   * await db.update(accounts).set({ balance: 0 }).where(lt(accounts.balance, 0)).returning();
   */
  update<TTable extends SchemaTables<TSchema>>(table: TTable): UpdateBuilder<TTable> {
    return new UpdateBuilder(this.context, table);
  }

  /**
   * @example
   * const gone = await db.delete(orders).where(eq(orders.accountId, 1)).returning({ id: orders.id });
   */
  delete<TTable extends SchemaTables<TSchema>>(table: TTable): DeleteQuery<TTable, WriteResult> {
    return new DeleteQuery(this.context, { table: table as PgTable });
  }
}
