import type { QueryContext } from './query-context.js';
import { SelectBuilder } from './select-builder.js';
import { count, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { SchemaTables, SelectFields } from './types.js';
import { relationalQueries, type RelationalQueries } from './relational-query.js';

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
  select<TFields extends SelectFields>(fields: TFields): SelectBuilder<TSchema, TFields>;
  select(fields?: SelectFields): SelectBuilder<TSchema, SelectFields | undefined> {
    return new SelectBuilder(this.context, fields);
  }

  /**
   * Distinct rows of the selected columns or expressions: each shard sends
   * its distinct values, the client merges them.
   * @example
   * const owners = await db.selectDistinct({ owner: accounts.owner }).from(accounts);
   */
  selectDistinct(): SelectBuilder<TSchema, undefined>;
  selectDistinct<TFields extends SelectFields>(fields: TFields): SelectBuilder<TSchema, TFields>;
  selectDistinct(fields?: SelectFields): SelectBuilder<TSchema, SelectFields | undefined> {
    return new SelectBuilder(this.context, fields, true);
  }

  /**
   * Postgres's `select distinct on`: the first row, by orderBy, of each
   * distinct value of the `on` columns; orderBy must start with them.
   * Rows are read ordered from every shard (with the transaction's own
   * writes), merged, and the first row of each value kept.
   * @example
   * const latest = await db.selectDistinctOn([orders.accountId]).from(orders).orderBy(orders.accountId, desc(orders.id));
   */
  selectDistinctOn(on: (PgColumn | SQL)[]): SelectBuilder<TSchema, undefined>;
  selectDistinctOn<TFields extends SelectFields>(on: (PgColumn | SQL)[], fields: TFields): SelectBuilder<TSchema, TFields>;
  selectDistinctOn(on: (PgColumn | SQL)[], fields?: SelectFields): SelectBuilder<TSchema, SelectFields | undefined> {
    return new SelectBuilder(this.context, fields, false, on);
  }

  /**
   * The number of rows of `table` matching `filter`, counted on each shard at the snapshot.
   * @example
   * const rich = await db.$count(accounts, gt(accounts.balance, 1000));
   */
  async $count<TTable extends SchemaTables<TSchema>>(table: TTable, filter?: SQL): Promise<number> {
    const [row] = await new SelectBuilder<TSchema, { n: SQL<number> }>(this.context, { n: count() }).from(table).where(filter);
    return row!.n;
  }

  /**
   * drizzle's relational queries over the schema's `relations()`: `db.query.<table>.findMany/findFirst({ where, with, columns, orderBy, limit })`.
   * @example
   * const users = await db.query.users.findMany({ with: { posts: true } });
   */
  get query(): RelationalQueries<TSchema> {
    this.queries ??= relationalQueries(this.context);
    return this.queries as RelationalQueries<TSchema>;
  }

  private queries: Record<string, unknown> | undefined;
}
