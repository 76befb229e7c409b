import type { QueryContext } from './query-context.js';
import { SelectBuilder } from './select-builder.js';
import type { SelectedFields } from './types.js';

/**
 * Read-only queries: `db.asOf(ts)` is one (each query reads a consistent
 * snapshot of every shard as of `ts`), and the database and a transaction
 * extend it with writes (QueryFacade).
 */
export class SnapshotReader<TSchema> {
  /** @internal */
  constructor(protected readonly context: QueryContext) {}

  /**
   * Read rows: whole rows, or a partial selection `{ alias: table.column }`.
   * @example
   * const [a] = await tx.select().from(accounts).where(eq(accounts.id, 1));
   * const ids = await db.select({ id: orders.id }).from(orders).where(eq(orders.accountId, 1));
   * // at an older timestamp:
   * const ts = await db.currentTimestamp();
   * await db.update(accounts).set({ balance: 0 }).where(eq(accounts.id, 1));
   * const [before] = await db.asOf(ts).select().from(accounts).where(eq(accounts.id, 1));
   */
  select(): SelectBuilder<TSchema, undefined>;
  select<TFields extends SelectedFields>(fields: TFields): SelectBuilder<TSchema, TFields>;
  select(fields?: SelectedFields): SelectBuilder<TSchema, SelectedFields | undefined> {
    return new SelectBuilder(this.context, fields);
  }
}
