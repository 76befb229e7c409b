import { lockInfoSql } from './read-row-columns.js';
import type { Statement } from './shard-pool.js';
import { ident } from '../schema/sql-names.js';
import type { TableSql } from './table-sql.js';

/**
 * The statements of version GC (src/txn/version-gc.ts) on one shard: its
 * advisory lock and safe point (schema/core/0002-gc-safe-point.sql), and per
 * table the old locks to resolve and the versions no read can see.
 */

// Arbitrary constant: the advisory lock key of version GC on a shard.
const GC_LOCK_KEY = 7_366_512_002;

/** `locked`: whether this local transaction now holds the shard's GC lock (never waits). */
export function tryGcLock(): Statement {
  return { text: 'select pg_try_advisory_xact_lock($1) as locked', values: [GC_LOCK_KEY] };
}

/** `safe_point` (text) of the shard. */
export function currentSafePoint(): Statement {
  return { text: 'select safe_point::text as safe_point from percolator_gc', values: [] };
}

/**
 * Raises the shard's safe point to `safePoint` (never lowers it) if `force`
 * or nobody collected it in the last `minAgeMs`; returns the new safe point,
 * or no row when it was collected recently.
 */
export function raiseSafePoint(safePoint: bigint, force: boolean, minAgeMs: number): Statement {
  return {
    text: `update percolator_gc set safe_point = greatest(safe_point, $1::bigint), updated_at = clock_timestamp()
where $2::boolean or updated_at <= clock_timestamp() - $3::bigint * interval '1 millisecond' returning safe_point::text as safe_point`,
    values: [safePoint.toString(), force, minAgeMs],
  };
}

/**
 * Names of the locks tables on the shard (in the connection's schema) whose
 * table is not in its catalogue: storage created by a client from before the
 * catalogue, after the catalogue's backfill. GC cannot see their locks.
 */
export function uncataloguedLockTables(): Statement {
  return {
    text: `select c.relname::text as name from pg_class c where c.relnamespace = current_schema()::regnamespace and c.relkind in ('r', 'p')
  and c.relname like '%\\_\\_locks' and not exists (select 1 from percolator_tables t where t.name || '__locks' = c.relname) order by 1`,
    values: [],
  };
}

/** The locks of `storage`'s table that started at or below `safePoint` (lockInfoSql's columns). */
export function oldLocks(storage: TableSql, safePoint: bigint): Statement {
  return {
    text: storage.statementText('gcOldLocks', () => `select ${lockInfoSql(storage, 'l')} from ${storage.locks} l where l.start_ts <= $1::bigint`),
    values: [safePoint.toString()],
  };
}

/** Deletes the versions of `storage`'s table hidden from every read at or above `safePoint` (rollback markers excepted). */
export function deleteSuperseded(storage: TableSql, safePoint: bigint): Statement {
  const pk = storage.pk.map((c) => ident(c.name));
  const text = storage.statementText(
    'gcDeleteSuperseded',
    () => `with keep as (
  select distinct on (${pk.join(', ')}) ${pk.join(', ')}, commit_ts from ${storage.versions}
  where commit_ts <= $1::bigint and op in ('put', 'del') order by ${pk.join(', ')}, commit_ts desc)
delete from ${storage.versions} v using keep k
where ${pk.map((c) => `v.${c} = k.${c}`).join(' and ')} and v.commit_ts < k.commit_ts and v.op <> 'rollback'`,
  );
  return { text, values: [safePoint.toString()] };
}

/** A key deleted at or below the safe point is absent for every read: its latest row can go. */
export function deleteDeletedLatest(storage: TableSql, safePoint: bigint): Statement {
  const text = storage.statementText('gcDeleteDeletedLatest', () => `delete from ${storage.latest} where op = 'del' and commit_ts <= $1::bigint`);
  return { text, values: [safePoint.toString()] };
}
