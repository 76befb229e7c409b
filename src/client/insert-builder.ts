import type { SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import { InvalidInputError, UniqueViolationError } from '../errors.js';
import type { Row } from '../txn/engine-contract.js';
import { project, resolveProjection } from './projection.js';
import type { QueryContext } from './query-context.js';
import type { TableMeta } from '../schema/table-meta.js';
import { keyOf, keyString } from './row-key.js';
import { fillGeneratedIds } from './generated-ids.js';
import { completeInsertRow } from './row-validation.js';
import { ThenableQuery } from './thenable-query.js';
import type { InsertRow, SelectedFields, SelectedRow, SelectFields, UpdateSet, WriteResult } from './types.js';
import { conflictAction, upsertRows, type ConflictConfig } from './upsert.js';
import { SelectQuery } from './select-builder.js';

/** First step of an insert: `db.insert(table)`; give rows with `.values()`. */
export class InsertBuilder<TTable extends PgTable> {
  /** @internal */
  constructor(
    private readonly context: QueryContext,
    private readonly table: TTable,
  ) {}

  /**
   * One row or an array of rows (`$inferInsert`: defaults and nullable columns optional).
   * @example
   * await db.insert(orders).values({ id: 7, accountId: 1, amount: 10 });
   * const [row] = await db.insert(accounts).values({ id: 2, balance: 0 }).returning();
   */
  values(rows: InsertRow<TTable> | readonly InsertRow<TTable>[]): InsertQuery<TTable, WriteResult> {
    return new InsertQuery(this.context, this.table, rows, undefined);
  }

  /**
   * Postgres's `insert into ... select`: the select's rows (keyed by this
   * table's column names) are read at the transaction's snapshot and
   * inserted in the same transaction (one of its own outside a transaction),
   * as values() would insert them. Only this client's select builders are
   * accepted: InvalidInputError for a raw sql select, a callback or a join.
   * @example
   * await db.insert(archive).select(db.select().from(orders).where(lt(orders.id, 100)));
   */
  select(query: SelectQuery<PgTable, InsertRow<TTable>, SelectFields | undefined>): InsertQuery<TTable, WriteResult> {
    if (!(query instanceof SelectQuery)) {
      throw new InvalidInputError(`insert(${this.context.tables.metaOf(this.table).name}).select(): pass a select query of this client such as db.select().from(table); raw sql, callbacks and joins cannot be read across shards here`);
    }
    return new InsertQuery(this.context, this.table, query, undefined);
  }
}

/** An insert; awaiting it buffers the rows in its transaction (committed at once outside a transaction). */
export class InsertQuery<TTable extends PgTable, TResult> extends ThenableQuery<TResult> {
  /** @internal */
  constructor(
    private readonly context: QueryContext,
    private readonly table: TTable,
    private readonly rows: unknown,
    private readonly returningFields: SelectedFields | 'all' | undefined,
    private readonly conflict?: { kind: 'nothing' | 'update'; config: ConflictConfig | undefined },
  ) {
    super();
  }

  /**
   * Postgres's `on conflict do nothing`, on the primary key: rows whose key
   * exists (at the snapshot, or earlier in values()) are skipped, and left
   * out of rowCount and returning(). `target`, if given, must be the primary key.
   * @example
   * await db.insert(accounts).values({ id: 1, balance: 0 }).onConflictDoNothing();
   */
  onConflictDoNothing(config?: { target?: PgColumn | PgColumn[] }): InsertQuery<TTable, TResult> {
    return new InsertQuery(this.context, this.table, this.rows, this.returningFields, { kind: 'nothing', config });
  }

  /**
   * Postgres's `on conflict (pk) do update`: a row whose key exists updates
   * that row instead: `set` takes values, `sql` expressions over the
   * existing row's columns and `excluded.<column>` (the proposed row);
   * `where` (or `setWhere`) over the existing row decides which rows are
   * updated. The target must be the primary key. Concurrent upserts of one
   * key: one is retried (write conflict), none is lost.
   * @example
   * await db.insert(counters).values({ id: 1, value: 1 })
   *   .onConflictDoUpdate({ target: counters.id, set: { value: sql`${counters.value} + 1` } });
   */
  onConflictDoUpdate(config: { target: PgColumn | PgColumn[]; set: UpdateSet<TTable>; where?: SQL; setWhere?: SQL }): InsertQuery<TTable, TResult> {
    return new InsertQuery(this.context, this.table, this.rows, this.returningFields, { kind: 'update', config });
  }

  /** Resolve to the inserted rows (defaults filled in), or to the chosen columns of them. */
  returning(): InsertQuery<TTable, TTable['$inferSelect'][]>;
  returning<TFields extends SelectedFields>(fields: TFields): InsertQuery<TTable, SelectedRow<TFields>[]>;
  returning(fields?: SelectedFields): InsertQuery<TTable, unknown> {
    return new InsertQuery(this.context, this.table, this.rows, fields ?? 'all', this.conflict);
  }

  /** @internal */
  protected override async execute(): Promise<TResult> {
    const meta = this.context.tables.metaOf(this.table);
    const source = this.rows;
    if (source instanceof SelectQuery) {
      // Read and write in one transaction: the inserted rows are those of the snapshot the insert runs at.
      return this.context.run('write', async (session) => {
        const inSession: QueryContext = { ...this.context, run: (_mode, work) => work(session) };
        const inputs = (await source.inContext(inSession)) as unknown[];
        if (inputs.length === 0) return (this.returningFields === undefined ? { rowCount: 0 } : []) as TResult;
        return this.insertRows(inSession, meta, inputs, `insert(${meta.name}).select()`);
      });
    }
    const inputs = Array.isArray(source) ? source : [source];
    if (inputs.length === 0) throw new InvalidInputError(`insert(${meta.name}).values(): no rows given`);
    return this.insertRows(this.context, meta, inputs, `insert(${meta.name}).values()`);
  }

  private async insertRows(context: QueryContext, meta: TableMeta, inputs: readonly unknown[], clauseName: string): Promise<TResult> {
    const projection = typeof this.returningFields === 'object' ? resolveProjection(meta, this.returningFields, `insert(${meta.name}).returning()`) : undefined;
    const where = (i: number) => `${clauseName}${inputs.length > 1 ? ` row ${i}` : ''}`;
    const generated = context.tables.generatedIds(meta);
    // Ids are taken before the transaction runs and kept across its retries: a rolled-back insert leaves a gap, as in Postgres.
    const filled = generated.length > 0 && context.ids ? await fillGeneratedIds(context.ids, meta, generated, inputs, where) : inputs;
    const rows: Row[] = filled.map((input, i) => completeInsertRow(meta, input, where(i)));
    if (this.conflict) {
      const clause = `insert(${meta.name}).onConflictDo${this.conflict.kind === 'nothing' ? 'Nothing' : 'Update'}()`;
      const action = conflictAction(meta, this.conflict.kind, this.conflict.config, clause);
      const written = await context.run('write', (session) => upsertRows(context, session, meta, rows, action, clause));
      if (this.returningFields === undefined) return { rowCount: written.length } as TResult;
      return project(written, projection) as TResult;
    }
    const seen = new Set<string>();
    for (const row of rows) {
      const key = keyOf(meta, row);
      const id = keyString(key);
      if (seen.has(id)) throw new UniqueViolationError(meta.name, key);
      seen.add(id);
    }
    await context.run('write', async (session) => {
      await session.engineTx.insert(meta, rows);
      session.rowCache.remember(meta, rows);
    });
    if (this.returningFields === undefined) return { rowCount: rows.length } as TResult;
    return project(rows, projection) as TResult;
  }
}
