import type { Statement } from './shard-pool.js';
import type { TableSql } from './table-sql.js';
import type { KeyTexts } from './key-text.js';

/**
 * A lock's TTL, judged by its shard's clock: the lock row (aliased `l`
 * below) was written at `written_at` and lives `ttl_ms`; past that, anyone
 * may roll its transaction back (docs/DESIGN.md, "TTL, heartbeat"). Every
 * statement that asks whether a lock has expired uses these fragments.
 */

/** The moment lock `l` expires. */
function lockDeadline(l: string): string {
  return `${l}.written_at + ${l}.ttl_ms * interval '1 millisecond'`;
}

/** Milliseconds since lock `l` was written (a double). */
function lockAgeMs(l: string): string {
  return `extract(epoch from clock_timestamp() - ${l}.written_at) * 1000`;
}

/** True when lock `l`'s TTL has run out. */
export function lockExpiredSql(l: string): string {
  return `${lockDeadline(l)} < clock_timestamp()`;
}

/** True while lock `l`'s TTL has not run out. */
export function lockLiveSql(l: string): string {
  return `${lockDeadline(l)} >= clock_timestamp()`;
}

/** What is left of lock `l`'s TTL, in ms (float8, at least 0). */
export function lockRemainingMsSql(l: string): string {
  return `greatest(0, ${l}.ttl_ms - ${lockAgeMs(l)})::float8`;
}

/** TTL refresh of the primary lock (the heartbeat): its TTL becomes its age plus `ttlMs`, never lower than before. */
export function heartbeat(t: TableSql, startTs: bigint, key: KeyTexts, ttlMs: number): Statement {
  return {
    text: `update ${t.locks} l set ttl_ms = greatest(l.ttl_ms, (${lockAgeMs('l')})::bigint + $3::bigint)
where ${t.pkEqualsParam('l', 2)} and l.start_ts = $1::bigint returning ttl_ms::text`,
    values: [startTs.toString(), key, ttlMs],
  };
}
