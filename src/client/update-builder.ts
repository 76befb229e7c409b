import type { SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { InvalidInputError } from '../errors.js';
import type { Row } from '../txn/engine-contract.js';
import { checkFilter } from './filter-validation.js';
import { project, resolveProjection } from './projection.js';
import type { QueryContext } from './query-context.js';
import { readRows } from './read-rows.js';
import { keyOf, keyString } from './row-key.js';
import { checkRowSize, checkSetValues } from './row-validation.js';
import { ThenableQuery } from './thenable-query.js';
import type { SelectedFields, SelectedRow, UpdateSet, WriteResult } from './types.js';

/** First step of an update: `db.update(table)`; give values with `.set()`. */
export class UpdateBuilder<TTable extends PgTable> {
  /** @internal */
  constructor(
    private readonly context: QueryContext,
    private readonly table: TTable,
  ) {}

  /**
   * Plain values for some columns (SQL expressions are refused: compute in the transaction).
   * @example
   * await tx.update(accounts).set({ balance: a.balance - 10 }).where(eq(accounts.id, 1));
   */
  set(values: UpdateSet<TTable>): UpdateQuery<TTable, WriteResult> {
    return new UpdateQuery(this.context, { table: this.table, values });
  }
}

interface UpdateConfig {
  readonly table: PgTable;
  readonly values: unknown;
  readonly where?: SQL | undefined;
  readonly returningFields?: SelectedFields | 'all';
}

/**
 * An update: reads the matching rows at the transaction's snapshot (its own
 * writes included), then buffers their new full images.
 */
export class UpdateQuery<TTable extends PgTable, TResult> extends ThenableQuery<TResult> {
  /** @internal */
  constructor(
    private readonly context: QueryContext,
    private readonly config: UpdateConfig,
  ) {
    super();
  }

  /** Which rows to update (all rows without it). */
  where(condition: SQL | undefined): UpdateQuery<TTable, TResult> {
    return new UpdateQuery(this.context, { ...this.config, where: condition });
  }

  /** Resolve to the updated rows' new images, or chosen columns of them. */
  returning(): UpdateQuery<TTable, TTable['$inferSelect'][]>;
  returning<TFields extends SelectedFields>(fields: TFields): UpdateQuery<TTable, SelectedRow<TFields>[]>;
  returning(fields?: SelectedFields): UpdateQuery<TTable, unknown> {
    return new UpdateQuery(this.context, { ...this.config, returningFields: fields ?? 'all' });
  }

  /** @internal */
  protected override async execute(): Promise<TResult> {
    const { table, returningFields } = this.config;
    const meta = this.context.tables.metaOf(table);
    const values = checkSetValues(meta, this.config.values);
    const where = checkFilter(meta, this.config.where, 'where');
    const projection = typeof returningFields === 'object' ? resolveProjection(meta, returningFields, `update(${meta.name}).returning()`) : undefined;
    const changesKey = meta.primaryKey.some((c) => c.key in values);
    const images = await this.context.run('write', async (session) => {
      const rows = await readRows(this.context, session, { meta, where });
      const updated: Row[] = rows.map((row) => ({ ...row, ...values }));
      for (const [i, image] of updated.entries()) {
        // A new key would be a different row: the old one must be deleted and the new one checked for uniqueness.
        if (changesKey && keyString(keyOf(meta, image)) !== keyString(keyOf(meta, rows[i]!))) {
          throw new InvalidInputError(`update(${meta.name}).set(): primary-key columns cannot change; delete the row and insert a new one`);
        }
        checkRowSize(meta, image, `update(${meta.name})`);
      }
      if (updated.length > 0) {
        session.engineTx.put(meta, updated);
        session.rowCache.remember(meta, updated);
      }
      return updated;
    });
    if (returningFields === undefined) return { rowCount: images.length } as TResult;
    return project(images, projection) as TResult;
  }
}
