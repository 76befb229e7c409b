import type { SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { InvalidInputError } from '../errors.js';
import type { Row } from '../txn/engine-contract.js';
import { checkFilter } from './filter-validation.js';
import { project, resolveProjection } from './projection.js';
import type { QueryContext, Session } from './query-context.js';
import type { TableMeta } from '../schema/table-meta.js';
import { readRows } from './read-rows.js';
import { keyOf, keyString } from './row-key.js';
import { checkRowSize } from './row-validation.js';
import { computeNewImages, splitSetValues } from './computed-update.js';
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
   * Values for some columns: plain values, or `sql` expressions over the
   * row's own columns (and columns of the table), evaluated on the shard
   * against the row read at the snapshot (its newest version after a
   * `for('update')`); a concurrent writer of the row makes one of the two
   * retry (write conflict), so no update is lost.
   * @example
   * await tx.update(accounts).set({ balance: a.balance - 10 }).where(eq(accounts.id, 1));
   * await db.update(accounts).set({ balance: sql`${accounts.balance} + 1` }).where(eq(accounts.id, 1));
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

  /**
   * drizzle's `update ... from` is not supported: the other table's rows may
   * live on other shards. Throws InvalidInputError at once.
   */
  from(source: unknown): never {
    void source;
    throw new InvalidInputError('update(...).from() is not supported across shards: read the other table first (a select or a join), then update the rows by key, in one transaction');
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
    const update = splitSetValues(meta, this.config.values, `update(${meta.name}).set()`);
    const { values } = update;
    const where = checkFilter(meta, this.config.where, 'where');
    const projection = typeof returningFields === 'object' ? resolveProjection(meta, returningFields, `update(${meta.name}).returning()`) : undefined;
    const changesKey = meta.primaryKey.some((c) => c.key in values);
    const images = await this.context.run('write', async (session) => {
      // Expressions are evaluated on the shards against the rows they read (computed-update.ts).
      if (update.expressions.length > 0) return this.buffer(session, meta, await computeNewImages(this.context, session, meta, where, update, `update(${meta.name}).set()`));
      const rows = await readRows(this.context, session, { meta, where });
      const updated: Row[] = rows.map((row) => ({ ...row, ...values }));
      for (const [i, image] of updated.entries()) {
        // A new key would be a different row: the old one must be deleted and the new one checked for uniqueness.
        if (changesKey && keyString(keyOf(meta, image)) !== keyString(keyOf(meta, rows[i]!))) {
          throw new InvalidInputError(`update(${meta.name}).set(): primary-key columns cannot change; delete the row and insert a new one`);
        }
      }
      return this.buffer(session, meta, updated, rows);
    });
    if (returningFields === undefined) return { rowCount: images.length } as TResult;
    return project(images, projection) as TResult;
  }

  /** `previous`: the rows as read, so the engine deletes their old index entries without reading them again (absent: it reads them). */
  private buffer(session: Session, meta: TableMeta, images: Row[], previous?: readonly Row[]): Row[] {
    for (const image of images) checkRowSize(meta, image, `update(${meta.name})`);
    if (images.length > 0) {
      session.engineTx.put(meta, images, { previous });
      session.rowCache.remember(meta, images);
    }
    return images;
  }
}
