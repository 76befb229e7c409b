import type { QueryContext } from './query-context.js';
import { SelectBuilder } from './select-builder.js';
import type { SelectedFields } from './types.js';

/**
 * Read-only view of the database at a past timestamp: `db.asOf(ts)`. Each
 * query reads a consistent snapshot of every shard as of `ts`.
 */
export class SnapshotReader<TSchema> {
  /** @internal */
  constructor(private readonly context: QueryContext) {}

  /**
   * @example
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
