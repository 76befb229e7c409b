import type { SQL } from 'drizzle-orm';
import { SchemaError } from '../errors.js';
import type { IndexMeta, TableMeta } from '../schema/table-meta.js';
import type { IndexCandidates, KeyValues, Row, RowLockRequest } from '../txn/engine-contract.js';
import { chooseIndex, lookupFilter, readThroughIndex, readThroughIndexRange } from './index-read.js';
import { chooseIndexRange } from './index-range.js';
import { analyzeKeyFilter, exactKeys } from './key-filter.js';
import { mergeOrdered } from './merge-ordered.js';
import { orderBySql, orderedExpression, type OrderTerm } from './order-by.js';
import type { QueryContext, Session } from './query-context.js';
import { keyId, rowKeyId } from './row-key.js';
import { pinnedShards } from './shard-pinning.js';

/** @internal A validated read: what select, update-where and delete-where share. */
export interface ReadPlan {
  readonly meta: TableMeta;
  readonly where?: SQL | undefined;
  readonly orderBy?: readonly OrderTerm[];
  readonly limit?: number | undefined;
  readonly offset?: number | undefined;
  /** Scans keep only the first row per value of these leading orderBy terms on each shard (selectDistinctOn; the caller keeps the first again after the merge). */
  readonly distinctOn?: readonly OrderTerm[] | undefined;
  /** A locking read (`for update`): never answered from the cache, and its rows replace what the cache knew. */
  readonly lock?: RowLockRequest | undefined;
}

/**
 * @internal Reads the rows matching a plan in a session. A filter that is
 * nothing but primary keys (eq/inArray on every key column) becomes point
 * reads, answered from what the transaction already read when possible.
 * A filter fixing the leading columns of an index reads through it
 * (index-read.ts); one with a range on an indexed column (after `eq` on
 * the columns before it), or an ordered and limited read by an indexed
 * column, reads the index in its order (index-range.ts). Anything else is a scan of only the shards a pinned
 * shard key allows. Each shard's rows are ordered and capped at
 * offset + limit, merged and sliced here.
 */
export async function readRows(context: QueryContext, session: Session, plan: ReadPlan): Promise<Row[]> {
  const { meta, where, orderBy = [], offset = 0, limit, lock, distinctOn } = plan;
  const filter = where && analyzeKeyFilter(meta, where);
  const keys = filter && exactKeys(meta, filter);
  if (keys && lock) return mergeOrdered(await lockKeys(session, meta, keys, lock), orderBy, offset, limit);
  if (keys) return mergeOrdered(await readKeys(session, meta, keys), orderBy, offset, limit);

  const shards = pinnedShards(meta, where, (row) => context.shardOf(meta, row), filter);
  if (shards?.length === 0) return [];
  const scan = {
    where,
    orderBy: orderBy.length > 0 ? orderBySql(orderBy) : undefined,
    // The engine merges buffered writes into each shard's rows before the cap applies.
    limit: limit !== undefined ? offset + limit : undefined,
    distinctOn: distinctOn && orderBy.length > 0 ? distinctOn.map(orderedExpression) : undefined,
    shards,
    lock,
  };
  // A filter that pins the shard key reads its shards' rows by their key; else an index fixed by the filter finds the rows,
  // or a range of an indexed column, or an ordered read with a limit, reads the index in its order.
  const usable = !shards && meta.indexes.length > 0 ? await session.engineTx.usableIndexes(meta) : [];
  // A migrate() dropped the index since this client declared it: its reads scan instead.
  const orScan = (index: IndexMeta, read: Promise<Row[]>): Promise<Row[]> =>
    read.catch((error: unknown) => {
      if (error instanceof SchemaError && error.sqlState === '42P01' && error.message.includes(index.storage.name)) return session.engineTx.select(meta, scan);
      throw error;
    });
  let rows: Row[];
  if (lock) {
    // A locking read finds its rows through the index's entries at its for-update timestamp (index-candidates.ts).
    const through = scan.limit === undefined && where && usable.length > 0 ? lockingIndex(meta, where, usable) : undefined;
    rows = through ? await orScan(through.index, session.engineTx.select(meta, { ...scan, through })) : await session.engineTx.select(meta, scan);
  } else {
    const lookup = where && usable.length > 0 ? chooseIndex(meta, where, usable) : undefined;
    const range = !lookup && usable.length > 0 ? chooseIndexRange(meta, where, orderBy, scan.limit, usable) : undefined;
    rows = lookup
      ? await orScan(lookup.index, readThroughIndex(context, session, meta, lookup, scan))
      : range
        ? await orScan(range.index, readThroughIndexRange(context, session, meta, range, scan, orderBy))
        : await session.engineTx.select(meta, scan);
  }
  if (lock) {
    session.rowCache.dropTable(meta);
    session.rowCache.remember(meta, rows);
  }
  else session.rowCache.rememberRead(meta, rows);
  return mergeOrdered(rows, orderBy, offset, limit);
}

async function lockKeys(session: Session, meta: TableMeta, keys: KeyValues[], lock: RowLockRequest): Promise<Row[]> {
  if (keys.length === 0) return [];
  const rows = await session.engineTx.getMany(meta, keys, { lock });
  const found = new Set(rows.map((row) => rowKeyId(meta, row)));
  session.rowCache.remember(meta, rows);
  session.rowCache.forget(meta, keys.filter((key) => !found.has(keyId(key))));
  return rows;
}

/**
 * The index a locking read finds its rows through (fixed by eq/inArray, else
 * a range), only when its entries answer the whole filter: the candidates
 * are then exactly the rows matching at the for-update timestamp, as a
 * locking scan's are (every candidate gets locked, matching or not).
 */
function lockingIndex(meta: TableMeta, where: SQL, usable: readonly IndexMeta[]): IndexCandidates | undefined {
  const lookup = chooseIndex(meta, where, usable);
  if (lookup) return lookup.exact ? { index: lookup.index, where: lookupFilter(lookup) } : undefined;
  const range = chooseIndexRange(meta, where, [], undefined, usable);
  return range?.exact && range.entryFilter ? { index: range.index, where: range.entryFilter } : undefined;
}

/** @internal Rows of these keys at the snapshot (absent keys omitted), answered from the transaction's view when it knows them all. */
export async function readKeys(session: Session, meta: TableMeta, keys: KeyValues[]): Promise<Row[]> {
  if (keys.length === 0) return [];
  const cached = session.rowCache.lookup(meta, keys);
  if (cached) return cached;
  const rows = await session.engineTx.getMany(meta, keys);
  // Keys are distinct (keyTuples), so as many rows as keys means none is absent.
  let absent: KeyValues[] = [];
  if (rows.length < keys.length) {
    const found = new Set(rows.map((row) => rowKeyId(meta, row)));
    absent = keys.filter((key) => !found.has(keyId(key)));
  }
  session.rowCache.rememberRead(meta, rows, absent);
  return rows;
}
