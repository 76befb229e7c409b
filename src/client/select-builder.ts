import type { SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import { InvalidInputError } from '../errors.js';
import type { RowLockRequest } from '../txn/engine-contract.js';
import { checkFilter } from './filter-validation.js';
import { parseOrderBy } from './order-by.js';
import { project, resolveProjection } from './projection.js';
import type { QueryContext } from './query-context.js';
import { readRows } from './read-rows.js';
import { ThenableQuery } from './thenable-query.js';
import type { SchemaTables, SelectFields, SelectResult } from './types.js';
import { hasExpressionFields } from './aggregate-plan.js';
import { runAggregateSelect } from './aggregate-query.js';
import { JoinQuery, type JoinOn } from './join-query.js';
import { checkCount } from './query-window.js';
import { runDistinctOnSelect } from './distinct-on.js';

/**
 * First step of a select: `db.select()` or `db.select({ alias: table.column })`;
 * name the table with `.from(table)`.
 */
export class SelectBuilder<TSchema, TFields extends SelectFields | undefined> {
  /** @internal */
  constructor(
    private readonly context: QueryContext,
    private readonly fields: TFields,
    private readonly distinct = false,
    private readonly distinctOn?: readonly unknown[],
  ) {}

  /**
   * @example
   * const rich = await db.select().from(accounts).where(gt(accounts.balance, 1000));
   */
  from<TTable extends SchemaTables<TSchema>>(
    table: TTable,
  ): SelectQuery<TTable, TFields extends SelectFields ? SelectResult<TFields> : TTable['$inferSelect'], TFields> {
    return new SelectQuery(this.context, { table, fields: this.fields, orderBy: [], groupBy: [], distinct: this.distinct, distinctOn: this.distinctOn });
  }
}

interface SelectConfig {
  readonly table: PgTable;
  readonly fields: SelectFields | undefined;
  readonly groupBy: readonly unknown[];
  readonly having?: SQL | undefined;
  readonly distinct: boolean;
  readonly distinctOn?: readonly unknown[] | undefined;
  readonly where?: SQL | undefined;
  readonly orderBy: readonly unknown[];
  readonly limit?: number;
  readonly offset?: number;
  readonly lock?: RowLockRequest;
}

/** Lock strengths of `.for()`; Postgres's shared ones ('share', 'key share') are refused with InvalidInputError. */
export type LockStrength = 'update' | 'no key update';

export interface LockOptions {
  /** Longest wait for other transactions' locks, in ms (default: the database's lockWaitTimeoutMs); 0 fails at once if a row is locked. */
  wait?: number;
}

/**
 * A select over one table, run at the snapshot of its transaction (with the
 * transaction's own writes). Immutable: every method returns a new query.
 */
export class SelectQuery<TTable extends PgTable, TRow, TFields extends SelectFields | undefined = SelectFields | undefined> extends ThenableQuery<TRow[]> {
  /** @internal */
  constructor(
    private readonly context: QueryContext,
    private readonly config: SelectConfig,
  ) {
    super();
  }

  /** Filter with drizzle operators (eq, and, or, gt, inArray, like, isNull, ...); pushed into SQL on each shard. */
  where(condition: SQL | undefined): SelectQuery<TTable, TRow, TFields> {
    return new SelectQuery(this.context, { ...this.config, where: condition });
  }

  /**
   * Order by columns of the table, `asc(column)` or `desc(column)`; merged across shards.
   * @example
   * await db.select().from(orders).orderBy(desc(orders.amount), orders.id).limit(10);
   */
  orderBy(...columns: (PgColumn | SQL)[]): SelectQuery<TTable, TRow, TFields> {
    return new SelectQuery(this.context, { ...this.config, orderBy: columns });
  }

  /**
   * Group the rows (columns of the table, or expressions over them): each
   * shard aggregates its groups, the client combines them (docs/CLIENT.md, "Aggregates").
   * @example
   * await db.select({ accountId: orders.accountId, n: count(), total: sum(orders.amount) }).from(orders).groupBy(orders.accountId);
   */
  groupBy(...terms: (PgColumn | SQL)[]): SelectQuery<TTable, TRow, TFields> {
    return new SelectQuery(this.context, { ...this.config, groupBy: terms });
  }

  /** A filter over the groups; only when every group lives on one shard (groupBy includes the shard key, or the filter pins one shard). */
  having(condition: SQL | undefined): SelectQuery<TTable, TRow, TFields> {
    return new SelectQuery(this.context, { ...this.config, having: condition });
  }

  /**
   * Rows of both tables where `on` holds: `{ [table name]: row }` per joined row, or the selected columns.
   * Tables sharing the shard key, joined on it, are joined by each shard; others by the client (docs/CLIENT.md, "Joins").
   * @example
   * await db.select().from(users).innerJoin(posts, eq(users.id, posts.authorId)).where(gt(posts.likes, 10));
   */
  innerJoin<TJoined extends PgTable>(
    table: TJoined,
    on: JoinOn<Record<TTable['_']['name'], TTable> & Record<TJoined['_']['name'], TJoined>>,
  ): JoinQuery<Record<TTable['_']['name'], TTable> & Record<TJoined['_']['name'], TJoined>, never, TFields> {
    return this.joinQuery().innerJoin(table, on as never) as never;
  }

  /**
   * As innerJoin, and rows without a match get `null` for the joined table (its columns null in a partial selection).
   * @example
   * await db.select().from(users).leftJoin(posts, eq(users.id, posts.authorId));
   */
  leftJoin<TJoined extends PgTable>(
    table: TJoined,
    on: JoinOn<Record<TTable['_']['name'], TTable> & Record<TJoined['_']['name'], TJoined>>,
  ): JoinQuery<Record<TTable['_']['name'], TTable> & Record<TJoined['_']['name'], TJoined>, TJoined['_']['name'], TFields> {
    return this.joinQuery().leftJoin(table, on as never) as never;
  }

  /** right joins are not supported: InvalidInputError (swap the tables and use leftJoin). */
  rightJoin(table: unknown, on?: unknown): never {
    return this.joinQuery().rightJoin(table, on);
  }

  /** full joins are not supported: InvalidInputError. */
  fullJoin(table: unknown, on?: unknown): never {
    return this.joinQuery().fullJoin(table, on);
  }

  private joinQuery(): JoinQuery<Record<string, PgTable>, never, TFields> {
    const { table, fields, where, orderBy, limit, offset, groupBy, having, distinct, distinctOn, lock } = this.config;
    if (groupBy.length > 0 || having !== undefined || distinct || distinctOn || lock) {
      throw new InvalidInputError('joins are supported for plain selects: groupBy, having, selectDistinct, selectDistinctOn and for(update) cannot be combined with a join');
    }
    return new JoinQuery(this.context, { table, joins: [], fields, where, orderBy, limit, offset });
  }

  limit(count: number): SelectQuery<TTable, TRow, TFields> {
    return new SelectQuery(this.context, { ...this.config, limit: count });
  }

  offset(count: number): SelectQuery<TTable, TRow, TFields> {
    return new SelectQuery(this.context, { ...this.config, offset: count });
  }

  /**
   * A locking read, as Postgres's `select ... for update`: the rows returned
   * are the newest committed ones (not the transaction's snapshot), and
   * they stay locked until the transaction ends, so other locking reads and
   * writers of them wait. A hot row updated this way by many clients never
   * causes a write conflict. Waits end with LockWaitTimeoutError after
   * `wait` ms; two transactions waiting for each other end with one of them
   * failing with DeadlockError (both retryable). By primary key, absent
   * keys are locked too. 'no key update' takes the same lock.
   * @example
   * await db.transaction(async (tx) => {
   *   const [c] = await tx.select().from(counters).where(eq(counters.id, 1)).for('update');
   *   await tx.update(counters).set({ value: c.value + 1 }).where(eq(counters.id, 1));
   * });
   */
  for(strength: LockStrength, options: LockOptions = {}): SelectQuery<TTable, TRow, TFields> {
    if (strength !== 'update' && strength !== 'no key update') {
      throw new InvalidInputError(`.for(${JSON.stringify(strength)}) is not supported: use 'update' or 'no key update' (shared row locks are not implemented)`);
    }
    const wait = options.wait;
    if (wait !== undefined && (typeof wait !== 'number' || !Number.isFinite(wait) || wait < 0)) {
      throw new InvalidInputError(`.for(): wait must be a non-negative number of ms, got ${String(wait)}`);
    }
    return new SelectQuery(this.context, { ...this.config, lock: { strength, waitMs: wait } });
  }

  /** @internal The same query run in another context (insert-select runs it in the insert's session). */
  inContext(context: QueryContext): SelectQuery<TTable, TRow, TFields> {
    return new SelectQuery(context, this.config);
  }

  /** @internal */
  protected override async execute(): Promise<TRow[]> {
    const { table, fields, where, orderBy, limit, offset, lock, distinctOn } = this.config;
    if (distinctOn) {
      if (hasExpressionFields(fields) || this.config.groupBy.length > 0 || this.config.having !== undefined || lock) {
        throw new InvalidInputError('selectDistinctOn: select columns of the table; groupBy, having, aggregates and for(update) cannot be combined with it');
      }
      return (await runDistinctOnSelect(this.context, { table, fields, distinctOn, where, orderBy, limit: checkCount(limit, 'limit'), offset: checkCount(offset, 'offset') })) as TRow[];
    }
    if (hasExpressionFields(fields) || this.config.groupBy.length > 0 || this.config.having !== undefined || (this.config.distinct && fields !== undefined)) {
      return (await runAggregateSelect(this.context, { ...this.config, limit: checkCount(limit, 'limit'), offset: checkCount(offset, 'offset') })) as TRow[];
    }
    const meta = this.context.tables.metaOf(table);
    const projection = fields ? resolveProjection(meta, fields, `select from ${meta.name}`) : undefined;
    const plan = {
      meta,
      where: checkFilter(meta, where, 'where'),
      orderBy: parseOrderBy(meta, orderBy),
      limit: checkCount(limit, 'limit'),
      offset: checkCount(offset, 'offset'),
      lock,
    };
    // Outside a transaction a locking read runs in its own transaction, which releases the locks at once (as in Postgres).
    const rows = await this.context.run(lock ? 'write' : 'read', (session) => readRows(this.context, session, plan));
    return project(rows, projection) as TRow[];
  }
}
