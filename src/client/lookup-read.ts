import { and, eq, inArray, or, type SQL } from 'drizzle-orm';
import type { ColumnMeta, TableMeta } from '../schema/table-meta.js';
import type { Row } from '../txn/engine-contract.js';
import { andOf } from './join-plan.js';
import { areKeyColumns } from './key-filter.js';
import { canonicalKeyValue } from './key-values.js';
import type { QueryContext, Session } from './query-context.js';
import { readRows } from './read-rows.js';

/**
 * @internal The most rows a join or relational query may hold on the
 * client at any step of a lookup (the rows of the first table read, the
 * joined rows after each table, the related rows of one `with`).
 * A join that needs more is refused (InvalidInputError) instead of fetching
 * a table into the client: filter it more, or make the tables share a shard
 * key so that the shards join.
 */
export const MAX_JOIN_ROWS = 10_000;

/** Values per lookup read (a point read by key takes up to 1,024). */
const LOOKUP_CHUNK = 1_000;

/**
 * @internal The rows of `meta` whose `columns` hold one of the value
 * tuples (and that pass `filter`), read in batches, each a read of its own
 * at the session's snapshot (by key, pinned shard key or index: buffered
 * writes, lock resolution and serializable predicates as for any read);
 * by the matchText of their values.
 */
export async function readByValues(context: QueryContext, session: Session, meta: TableMeta, columns: readonly ColumnMeta[], tuples: readonly unknown[][], filter: SQL | undefined): Promise<Map<string, Row[]>> {
  const found = new Map<string, Row[]>();
  for (let i = 0; i < tuples.length; i += LOOKUP_CHUNK) {
    const batch = tuples.slice(i, i + LOOKUP_CHUNK);
    const byValues = columns.length === 1 ? inArray(columns[0]!.column, batch.map((v) => v[0])) : or(...batch.map((v) => and(...columns.map((c, k) => eq(c.column, v[k])))));
    const rows = await readRows(context, session, { meta, where: andOf([byValues!, ...(filter ? [filter] : [])]) });
    for (const row of rows) {
      const key = matchText(columns, columns.map((c) => row[c.key]));
      const list = found.get(key) ?? [];
      list.push(row);
      found.set(key, list);
    }
  }
  return found;
}

/** @internal Whether rows with given values of `columns` are found without scanning every shard: the shard key is among them, or an index's leading columns. */
export function isLookupable(meta: TableMeta, columns: readonly ColumnMeta[]): boolean {
  if (areKeyColumns(meta.shardKey) && meta.shardKey.every((c) => columns.includes(c))) return true;
  return meta.indexes.some((index) => {
    const leading = index.columns[0]!;
    return columns.includes(leading) && areKeyColumns([leading]) && index.columns.every((c, i) => i === 0 || columns.includes(c) || c.notNull);
  });
}

/** @internal Values compared as Postgres's `=` would (canonical key forms; 1 and 1n alike). */
export function matchText(columns: readonly ColumnMeta[], values: readonly unknown[]): string {
  return JSON.stringify(values.map((v, i) => {
    const canonical = canonicalKeyValue(columns[i]!.column, v);
    return canonical instanceof Date ? canonical.toISOString() : String(canonical);
  }));
}
