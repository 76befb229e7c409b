import type { PgTable } from 'drizzle-orm/pg-core';
import { InvalidInputError, UniqueViolationError } from '../errors.js';
import type { Row } from '../txn/engine-contract.js';
import { project, resolveProjection } from './projection.js';
import type { QueryContext } from './query-context.js';
import { keyOf, keyString } from './row-key.js';
import { fillGeneratedIds } from './generated-ids.js';
import { completeInsertRow } from './row-validation.js';
import { ThenableQuery } from './thenable-query.js';
import type { InsertRow, SelectedFields, SelectedRow, WriteResult } from './types.js';

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
}

/** An insert; awaiting it buffers the rows in its transaction (committed at once outside a transaction). */
export class InsertQuery<TTable extends PgTable, TResult> extends ThenableQuery<TResult> {
  /** @internal */
  constructor(
    private readonly context: QueryContext,
    private readonly table: TTable,
    private readonly rows: unknown,
    private readonly returningFields: SelectedFields | 'all' | undefined,
  ) {
    super();
  }

  /** Resolve to the inserted rows (defaults filled in), or to the chosen columns of them. */
  returning(): InsertQuery<TTable, TTable['$inferSelect'][]>;
  returning<TFields extends SelectedFields>(fields: TFields): InsertQuery<TTable, SelectedRow<TFields>[]>;
  returning(fields?: SelectedFields): InsertQuery<TTable, unknown> {
    return new InsertQuery(this.context, this.table, this.rows, fields ?? 'all');
  }

  /** @internal */
  protected override async execute(): Promise<TResult> {
    const meta = this.context.tables.metaOf(this.table);
    const inputs = Array.isArray(this.rows) ? this.rows : [this.rows];
    if (inputs.length === 0) throw new InvalidInputError(`insert(${meta.name}).values(): no rows given`);
    const projection = typeof this.returningFields === 'object' ? resolveProjection(meta, this.returningFields, `insert(${meta.name}).returning()`) : undefined;
    const where = (i: number) => `insert(${meta.name}).values()${inputs.length > 1 ? ` row ${i}` : ''}`;
    const generated = this.context.tables.generatedIds(meta);
    // Ids are taken before the transaction runs and kept across its retries: a rolled-back insert leaves a gap, as in Postgres.
    const filled = generated.length > 0 && this.context.ids ? await fillGeneratedIds(this.context.ids, meta, generated, inputs, where) : inputs;
    const rows: Row[] = filled.map((input, i) => completeInsertRow(meta, input, where(i)));
    const seen = new Set<string>();
    for (const row of rows) {
      const key = keyOf(meta, row);
      const id = keyString(key);
      if (seen.has(id)) throw new UniqueViolationError(meta.name, key);
      seen.add(id);
    }
    await this.context.run('write', async (session) => {
      await session.engineTx.insert(meta, rows);
      session.rowCache.remember(meta, rows);
    });
    if (this.returningFields === undefined) return { rowCount: rows.length } as TResult;
    return project(rows, projection) as TResult;
  }
}
