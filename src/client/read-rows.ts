import type { SQL } from 'drizzle-orm';
import type { TableMeta } from '../schema/table-meta.js';
import type { Row } from '../txn/engine-contract.js';
import { mergeOrdered } from './merge-ordered.js';
import { orderBySql, type OrderTerm } from './order-by.js';
import type { QueryContext, Session } from './query-context.js';
import { pinnedShards } from './shard-pinning.js';

/** @internal A validated read: what select, update-where and delete-where share. */
export interface ReadPlan {
  readonly meta: TableMeta;
  readonly where?: SQL | undefined;
  readonly orderBy?: readonly OrderTerm[];
  readonly limit?: number | undefined;
  readonly offset?: number | undefined;
}

/**
 * @internal Reads the rows matching a plan in a session: only the shards a
 * pinned shard key allows; each shard ordered and capped at offset + limit;
 * then merged and sliced here.
 */
export async function readRows(context: QueryContext, session: Session, plan: ReadPlan): Promise<Row[]> {
  const { meta, where, orderBy = [], offset = 0, limit } = plan;
  const shards = pinnedShards(meta, where, (row) => context.shardOf(meta, row));
  if (shards?.length === 0) return [];
  // The engine merges buffered writes into each shard's rows before the cap applies.
  const cap = limit !== undefined ? offset + limit : undefined;
  const rows = await session.engineTx.select(meta, {
    where,
    orderBy: orderBy.length > 0 ? orderBySql(orderBy) : undefined,
    limit: cap,
    shards,
  });
  return mergeOrdered(rows, orderBy, offset, limit);
}
