import type { SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { checkFilter } from './filter-validation.js';
import { project, resolveProjection } from './projection.js';
import type { QueryContext } from './query-context.js';
import { readRows } from './read-rows.js';
import { keyOf } from './row-key.js';
import { ThenableQuery } from './thenable-query.js';
import type { SelectedFields, SelectedRow } from './types.js';

interface DeleteConfig {
  readonly table: PgTable;
  readonly where?: SQL | undefined;
  readonly returningFields?: SelectedFields | 'all';
}

/**
 * A delete: reads the matching rows at the transaction's snapshot (its own
 * writes included), then buffers deletions of their keys.
 * @example
 * await tx.delete(orders).where(and(eq(orders.accountId, 1), lt(orders.amount, 0)));
 */
export class DeleteQuery<TTable extends PgTable, TResult> extends ThenableQuery<TResult> {
  /** @internal */
  constructor(
    private readonly context: QueryContext,
    private readonly config: DeleteConfig,
  ) {
    super();
  }

  /** Which rows to delete (all rows without it). */
  where(condition: SQL | undefined): DeleteQuery<TTable, TResult> {
    return new DeleteQuery(this.context, { ...this.config, where: condition });
  }

  /** Resolve to the deleted rows as they were, or chosen columns of them. */
  returning(): DeleteQuery<TTable, TTable['$inferSelect'][]>;
  returning<TFields extends SelectedFields>(fields: TFields): DeleteQuery<TTable, SelectedRow<TFields>[]>;
  returning(fields?: SelectedFields): DeleteQuery<TTable, unknown> {
    return new DeleteQuery(this.context, { ...this.config, returningFields: fields ?? 'all' });
  }

  /** @internal */
  protected override async execute(): Promise<TResult> {
    const { table, returningFields } = this.config;
    const meta = this.context.tables.metaOf(table);
    const where = checkFilter(meta, this.config.where, 'where');
    const projection = typeof returningFields === 'object' ? resolveProjection(meta, returningFields, `delete(${meta.name}).returning()`) : undefined;
    const deleted = await this.context.run('write', async (session) => {
      const rows = await readRows(this.context, session, { meta, where });
      if (rows.length > 0) {
        const keys = rows.map((row) => keyOf(meta, row));
        session.engineTx.delete(meta, keys, { previous: rows });
        session.rowCache.forget(meta, keys);
      }
      return rows;
    });
    if (returningFields === undefined) return { rowCount: deleted.length } as TResult;
    return project(deleted, projection) as TResult;
  }
}
