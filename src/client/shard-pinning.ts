import type { SQL } from 'drizzle-orm';
import type { TableMeta } from '../schema/table-meta.js';
import type { Row } from '../txn/engine-contract.js';
import { analyzeKeyFilter, areKeyColumns, keyTuples, type KeyFilter } from './key-filter.js';

/**
 * @internal The shards that can hold rows matching `where`, or undefined when
 * any shard may. A filter pins the shard key when every shard-key column is
 * fixed by `eq(col, value)` or `inArray(col, values)`, possibly inside
 * and()/or() (other conditions may sit beside them in an and()). Best
 * effort: any other shape means "all shards", which is always correct.
 */
export function pinnedShards(
  meta: TableMeta,
  where: SQL | undefined,
  shardOf: (row: Row) => number,
  filter: KeyFilter | undefined = where && analyzeKeyFilter(meta, where),
): number[] | undefined {
  if (!filter || !areKeyColumns(meta.shardKey)) return undefined;
  const tuples = keyTuples(filter, meta.shardKey);
  if (!tuples) return undefined;
  return [...new Set(tuples.map(shardOf))].sort((a, b) => a - b);
}
