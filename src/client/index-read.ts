import { and, eq, inArray, or, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { ColumnMeta, IndexMeta, TableMeta } from '../schema/table-meta.js';
import type { KeyValues, Row, ScanRequest } from '../txn/engine-contract.js';
import { analyzeColumnFilter, areKeyColumns, keyTuples, MAX_KEY_TUPLES } from './key-filter.js';
import type { IndexRange } from './index-range.js';
import { mergeOrdered } from './merge-ordered.js';
import type { OrderTerm } from './order-by.js';
import type { QueryContext, Session } from './query-context.js';
import { keyId } from './row-key.js';

/** @internal An index a filter can read through: the leading columns it fixes, and their values. */
export interface IndexLookup {
  readonly index: IndexMeta;
  /** The index's leading columns the filter fixes with eq/inArray (all of them, or a prefix). */
  readonly columns: readonly ColumnMeta[];
  /** The value tuples of those columns a matching row may have. */
  readonly tuples: readonly Row[];
  /** The filter says nothing else: a row matches iff it has an entry among the tuples. */
  readonly exact: boolean;
}

/**
 * @internal The index to read a filter through, if any, among `usable`
 * (complete on every shard): one whose leading
 * columns the filter fixes with `eq`/`inArray` (inside and()/or(), like a
 * key filter), of types whose JS equality is SQL equality. A unique index
 * fixed whole is best (a point read of its entries on the shards of those
 * values), then any index fixed whole (one shard per value), then the
 * longest fixed prefix (an index range on every shard).
 */
export function chooseIndex(meta: TableMeta, where: SQL, usable: readonly IndexMeta[] = meta.indexes): IndexLookup | undefined {
  let best: { lookup: IndexLookup; score: number } | undefined;
  for (const index of usable) {
    const filter = analyzeColumnFilter(index.columns, where);
    if (!filter) continue;
    for (let length = index.columns.length; length > 0; length--) {
      const columns = index.columns.slice(0, length);
      if (!areKeyColumns(columns)) continue;
      // A row with a NULL in any indexed column has no entry: a prefix finds all matching rows only if the rest cannot be NULL.
      if (index.columns.slice(length).some((c) => !c.notNull)) continue;
      const tuples = keyTuples(filter, columns);
      if (!tuples) continue;
      const whole = length === index.columns.length;
      const score = (whole ? 1000 : 0) + (whole && index.unique ? 500 : 0) + length;
      const exact = filter.exact && filter.alternatives.every((a) => [...a.keys()].every((key) => columns.some((c) => c.key === key)));
      if (!best || score > best.score) best = { lookup: { index, columns, tuples, exact }, score };
      break;
    }
  }
  return best?.lookup;
}

/**
 * @internal A read through an index, in two steps: the index's entries
 * matching the fixed columns, at the transaction's snapshot with its own
 * entries merged (read by key for a unique index fixed whole, else a
 * filtered read of the entries' storage, pinned to the values' shards
 * when fixed whole); then the rows of the primary keys found, read with
 * the whole filter (and ordering, limit, locking) on only their shards, so
 * a row whose entry matched but whose other columns do not is dropped; or,
 * when the filter is nothing but the index's values, by key (the caller
 * orders and limits them).
 * Serializable transactions record both reads: an entry inserted later
 * that matches is a conflict at commit, like a row in a scanned range.
 */
export async function readThroughIndex(
  context: QueryContext,
  session: Session,
  meta: TableMeta,
  lookup: IndexLookup,
  scan: ScanRequest,
): Promise<Row[]> {
  const { index, columns, tuples } = lookup;
  const storage = index.storage;
  const whole = columns.length === index.columns.length;
  let entries: Row[];
  if (whole && index.unique) {
    entries = await session.engineTx.getMany(storage, tuples.map((t) => columns.map((c) => t[c.key])));
  } else {
    const shards = whole ? [...new Set(tuples.map((t) => context.shardOf(storage, t)))].sort((a, b) => a - b) : undefined;
    entries = await session.engineTx.select(storage, { where: lookupFilter(lookup), shards });
  }
  return rowsOfEntries(context, session, meta, entries, lookup.exact, scan);
}

/**
 * @internal A read through an index's order (index-range.ts): the entries
 * in the range (ordered and limited on each shard when the entries answer
 * the whole filter), read through the btree of the index's storage on
 * every shard, then the rows of the keys found, as for readThroughIndex.
 * A serializable transaction records the entries' read as a predicate
 * over the index's storage: an entry entering the range is a conflict.
 */
export async function readThroughIndexRange(
  context: QueryContext,
  session: Session,
  meta: TableMeta,
  range: IndexRange,
  scan: ScanRequest,
  orderBy: readonly OrderTerm[],
): Promise<Row[]> {
  const storage = range.index.storage;
  if (!range.ordered) return rowsOfEntries(context, session, meta, await session.engineTx.select(storage, { where: range.entryFilter }), range.exact, scan);
  const entries = await session.engineTx.select(storage, { where: range.entryFilter, orderBy: scan.orderBy, limit: scan.limit });
  return rowsOfEntries(context, session, meta, mergeOrdered(entries, orderBy, 0, scan.limit), range.exact, scan);
}

/**
 * The rows of the entries found: by key when the entries answered the
 * whole filter (entries and rows agree at every snapshot, own writes
 * included: point reads, shared across transactions; not for a locking
 * read, which returns the newest rows, to be matched again); else one
 * filtered read per shard of the keys' rows, `(pk in (...)) and <the
 * filter>`, the whole filter, order and limit running in Postgres. Past
 * MAX_KEY_TUPLES keys, that filter would be a scan anyway: it scans.
 */
async function rowsOfEntries(context: QueryContext, session: Session, meta: TableMeta, entries: readonly Row[], exact: boolean, scan: ScanRequest): Promise<Row[]> {
  const keys = new Map<unknown, KeyValues>();
  for (const entry of entries) {
    const key = meta.primaryKey.map((c) => entry[c.key]);
    keys.set(keyId(key), key);
  }
  if (keys.size === 0) return [];
  if (exact && !scan.lock) return session.engineTx.getMany(meta, [...keys.values()]);
  if (keys.size > MAX_KEY_TUPLES) return session.engineTx.select(meta, scan);
  const shards = [...new Set([...keys.values()].map((key) => context.shardOf(meta, rowOf(meta, key))))].sort((a, b) => a - b);
  const where = scan.where ? and(keysFilter(meta, [...keys.values()]), scan.where) : keysFilter(meta, [...keys.values()]);
  return session.engineTx.select(meta, { ...scan, where, shards });
}

/** @internal The filter over an index's entries that a lookup reads: its columns have one of the tuples' values. */
export function lookupFilter(lookup: IndexLookup): SQL {
  return tuplesFilter(lookup.columns, lookup.tuples);
}

/** `col in (...)` for one column, else an or() of and()s of `eq`: rows whose columns have one of the tuples' values. */
function tuplesFilter(columns: readonly ColumnMeta[], tuples: readonly Row[]): SQL {
  if (columns.length === 1) {
    const c = columns[0]!;
    return inArray(c.column as PgColumn, tuples.map((t) => t[c.key]));
  }
  return or(...tuples.map((t) => and(...columns.map((c) => eq(c.column as PgColumn, t[c.key])))))!;
}

function keysFilter(meta: TableMeta, keys: readonly KeyValues[]): SQL {
  return tuplesFilter(meta.primaryKey, keys.map((key) => rowOf(meta, key)));
}

function rowOf(meta: TableMeta, key: KeyValues): Row {
  const row: Row = {};
  meta.primaryKey.forEach((c, i) => (row[c.key] = key[i]));
  return row;
}
