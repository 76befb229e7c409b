import type { PgTable } from 'drizzle-orm/pg-core';
import { DeleteQuery } from './delete-builder.js';
import { InsertBuilder } from './insert-builder.js';
import { SnapshotReader } from './snapshot-reader.js';
import type { SchemaTables, WriteResult } from './types.js';
import { UpdateBuilder } from './update-builder.js';

/**
 * The query builders shared by the database and by a transaction (which is
 * itself a database, as in drizzle): the reader's select, plus writes.
 */
export class QueryFacade<TSchema> extends SnapshotReader<TSchema> {
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
