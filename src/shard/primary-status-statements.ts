import { slotOfKey } from './shard-of.js';
import type { KeyTexts } from './key-text.js';
import { lockExpiredSql, lockLiveSql, lockRemainingMsSql } from './lock-ttl.js';
import type { Statement } from './shard-pool.js';
import { ident } from '../schema/sql-names.js';
import type { TableSql } from './table-sql.js';

/**
 * The statements lock resolution runs at a transaction's primary key: a
 * look at its version and lock, the locked look at its lock slot, the push
 * of its min_commit_ts, and what a committer asks when its commit changed
 * nothing.
 */

/** What one look at a transaction's primary shows (peekPrimary; pushPrimaries for what it could not push): its version (by start_ts) and its lock. */
export interface PrimaryPeek {
  commit_ts: string | null;
  version_op: string | null;
  locked: boolean;
  expired: boolean | null;
  remaining_ms: number | null;
}

/**
 * A reader at `readTs` met live locks of these transactions, whose primary
 * keys are in this table on this shard: raise each primary lock's
 * min_commit_ts to `minCommitTs` (readTs + 1) so that its owner can only
 * commit after the reader's snapshot. Serializes with commitPrimary on each
 * lock row; the rows are locked in key order, so two readers pushing the
 * same owners cannot deadlock. One row per transaction: `pushed`, or else what peekPrimary
 * would say (its lock is gone, expired or a resolver's placeholder), so
 * the caller decides the rest without another round trip. Those two
 * lookups are gated inside their subqueries (a one-time filter), so a
 * pushed transaction costs no probe of versions or locks; a version of L
 * has commit_ts >= L's start_ts (a rollback marker: equal), which bounds
 * the probe of the key's history to what L could have written.
 */
export function pushPrimaries(t: TableSql, minCommitTs: bigint, primaries: readonly { startTs: bigint; key: KeyTexts }[]): Statement {
  const text = t.statementText('pushPrimaries', () => `with b as (select * from unnest(${t.arrays(2, 1 + t.pk.length)}) as b(s, ${t.keyNames()})),
target as (select ${t.pk.map((c) => `l.${ident(c.name)}`).join(', ')}, l.start_ts from ${t.locks} l join b on ${t.pkMatch('l', 'b')} and l.start_ts = b.s::bigint
  where l.op <> 'rollback' and ${lockLiveSql('l')}
  order by ${t.pk.map((c) => `l.${ident(c.name)}`).join(', ')} for no key update of l),
pushed as (update ${t.locks} l set min_commit_ts = greatest(l.min_commit_ts, $1::bigint) from target t
  where ${t.pk.map((c) => `l.${ident(c.name)} = t.${ident(c.name)}`).join(' and ')} and l.start_ts = t.start_ts
  returning l.start_ts)
select b.s as start_ts, p.start_ts is not null as pushed, v.commit_ts::text as commit_ts, v.op as version_op, l.start_ts is not null as locked,
  (${lockExpiredSql('l')}) as expired,
  ${lockRemainingMsSql('l')} as remaining_ms
from b left join pushed p on p.start_ts = b.s::bigint
left join lateral (select commit_ts, op from ${t.versions} v where p.start_ts is null and ${t.pkMatch('v', 'b')} and v.commit_ts >= b.s::bigint
  and v.start_ts = b.s::bigint order by (v.op = 'rollback') limit 1) v on true
left join lateral (select start_ts, written_at, ttl_ms from ${t.locks} l where p.start_ts is null and ${t.pkMatch('l', 'b')} and l.start_ts = b.s::bigint limit 1) l on true`);
  return {
    text,
    values: [minCommitTs.toString(), primaries.map((p) => p.startTs.toString()), ...t.keyColumnsOf(primaries.map((p) => p.key))],
  };
}

/** min_commit_ts of `startTs`'s lock on this key, if the lock is there. */
export function lockMinCommitTs(t: TableSql, startTs: bigint, key: KeyTexts): Statement {
  return {
    text: `select min_commit_ts::text as min_commit_ts from ${t.locks} l where ${t.pkEqualsParam('l', 2)} and l.start_ts = $1::bigint`,
    values: [startTs.toString(), key],
  };
}

/**
 * Did `startTs` commit this key? (its version, or a rollback marker, by
 * start_ts). commit_ts >= start_ts for every version (commit_ts comes
 * from the oracle after start_ts; a marker sits at start_ts), so only
 * that end of the key's history is read.
 */
export function versionByStartTs(t: TableSql, startTs: bigint, key: KeyTexts): Statement {
  return {
    text: `select commit_ts::text as commit_ts, op from ${t.versions} v where ${t.pkEqualsParam('v', 2)} and v.commit_ts >= $1::bigint and v.start_ts = $1::bigint
  order by (v.op = 'rollback') limit 1`,
    values: [startTs.toString(), key],
  };
}

/**
 * Read-only look at a transaction's primary, without row locks: its
 * version (by start_ts) and its lock, if any. Enough to decide the final
 * outcomes and "alive"; only an expired or missing lock needs the locked
 * slot (lockPrimarySlot).
 */
export function peekPrimary(t: TableSql, startTs: bigint, key: KeyTexts): Statement {
  return {
    text: `select v.commit_ts::text as commit_ts, v.op as version_op, l.start_ts is not null as locked,
  (${lockExpiredSql('l')}) as expired,
  ${lockRemainingMsSql('l')} as remaining_ms
from (select 1) one
left join lateral (select commit_ts, op from ${t.versions} v where ${t.pkEqualsParam('v', 2)} and v.commit_ts >= $1::bigint and v.start_ts = $1::bigint
  order by (v.op = 'rollback') limit 1) v on true
left join lateral (select start_ts, written_at, ttl_ms from ${t.locks} l where ${t.pkEqualsParam('l', 2)} and l.start_ts = $1::bigint) l on true`,
    values: [startTs.toString(), key],
  };
}

/**
 * Locks the primary key's lock slot: returns L's lock row if present, or
 * another transaction's, or inserts an uncommitted placeholder
 * (op 'rollback') when the slot is empty. Either way the slot's row is
 * locked until the status transaction ends, so commitPrimary of L and a
 * concurrent prewrite of L's primary wait for the decision. The shard must
 * own the key's slot (the slot fence): on a shard the slot moved away from,
 * an absent primary proves nothing, and the placeholder would roll back a
 * transaction whose primary lives elsewhere.
 */
export function lockPrimarySlot(t: TableSql, startTs: bigint, key: KeyTexts): Statement {
  return {
    text: `insert into ${t.locks} as l (${t.pkList}, start_ts, op, primary_table, primary_key, ttl_ms, slot)
select ${t.pkFromParam(2)}, $1::bigint, 'rollback', '', '{}', 0, $3::int from percolator_fence_slots(array[$3::int]) as fence(owned) where fence.owned
on conflict (${t.pkList}) do update set op = l.op
returning l.start_ts::text as start_ts, l.op, (l.xmax = 0) as inserted,
  (${lockExpiredSql('l')}) as expired,
  ${lockRemainingMsSql('l')} as remaining_ms`,
    values: [startTs.toString(), key, slotOfKey(t.meta, key)],
  };
}
