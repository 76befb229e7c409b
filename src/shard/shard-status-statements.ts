import type { Statement } from './shard-pool.js';
import { ident } from '../schema/sql-names.js';

/** What `shards status` shows of one shard. */
export interface ShardStatusRow {
  /** Slots this shard owns and accepts writes for. */
  owned: number;
  /** Slots it owns but refuses writes to (a move under way, or interrupted). */
  frozen: number;
  /** Versions stored, all tables (Postgres's estimate, as of the last analyze). */
  versions: string;
  /** Bytes of the versions and locks tables with their indexes. */
  bytes: string;
  /** Live rows of user tables, index entries left out (Postgres's estimate of the latest-rows tables). */
  rows: string;
}

/** One cheap statement: counts from catalogs and the small ownership table, no table scan. */
export const shardStatus: Statement = {
  text: `select
  (select count(*) from percolator_owned_slots where not frozen)::int as owned,
  (select count(*) from percolator_owned_slots where frozen)::int as frozen,
  coalesce((select sum(greatest(c.reltuples, 0)) from pg_class c
    where c.relkind = 'r' and c.relnamespace = current_schema()::regnamespace and c.relname like '%\\_\\_versions'), 0)::bigint::text as versions,
  coalesce((select sum(pg_total_relation_size(c.oid)) from pg_class c
    where c.relkind = 'r' and c.relnamespace = current_schema()::regnamespace and (c.relname like '%\\_\\_versions' or c.relname like '%\\_\\_locks')), 0)::bigint::text as bytes,
  coalesce((select sum(greatest(c.reltuples, 0)) from pg_class c
    where c.relkind = 'r' and c.relnamespace = current_schema()::regnamespace and c.relname like '%\\_\\_latest' and c.relname not like '%\\_\\_idx\\_\\_latest'), 0)::bigint::text as rows`,
  values: [],
};

/**
 * Exact live rows (each key's newest committed put) of `tables` on one
 * shard, in the slots it owns: a scan of each table's latest rows, for
 * planning a rebalance and `shards status --count-rows`. Index entries are
 * not counted.
 */
export function liveRowCount(tables: readonly string[]): Statement {
  if (tables.length === 0) return { text: `select '0' as rows`, values: [] };
  // Only slots this shard owns: a moved slot's old copy waits here for the GC safe point.
  const counts = tables.map((name) => `(select count(*) from ${ident(`${name}__latest`)} where op = 'put' and slot in (select slot from percolator_owned_slots))`);
  return { text: `select (${counts.join(' + ')})::text as rows`, values: [] };
}
