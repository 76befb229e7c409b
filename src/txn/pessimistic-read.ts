import { PgDialect } from 'drizzle-orm/pg-core';
import { InvalidInputError } from '../errors.js';
import type { KeyTexts } from '../shard/key-text.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { Timestamp } from '../timestamp.js';
import type { EngineContext } from './engine-context.js';
import type { Row, RowLockRequest, ScanRequest } from './engine-contract.js';
import { keyIdOf, type Mutation } from './mutation.js';
import type { PessimisticLocks } from './pessimistic-locks.js';
import type { ReadSet } from './read-set.js';
import { validateReadSet } from './read-validation.js';
import { withSlotFilter } from './shard-reads.js';
import { rowKeyTexts, runSnapshotRead } from './snapshot-read.js';

const dialect = new PgDialect();

/**
 * Where a locking read finds its candidates instead of scanning the rows:
 * an index's entries read at the for-update timestamp (index-candidates.ts).
 */
export interface CandidateSource {
  /** The candidate keys per shard, read at forUpdateTs. */
  candidates(forUpdateTs: Timestamp): Promise<Map<number, KeyTexts[]>>;
  /** Records what was read (serializable validation). */
  record(forUpdateTs: Timestamp): void;
}

/** What a locking read needs of its transaction. */
export interface LockingReadTarget {
  readonly ctx: EngineContext;
  readonly startTs: Timestamp;
  readonly locks: PessimisticLocks;
  /** Where reads are recorded: only serializable transactions validate them (undefined in snapshot mode). */
  readonly readSet: ReadSet | undefined;
  /** The transaction's own buffered writes of a table on a shard. */
  buffered(table: string, shard: number): readonly Mutation[];
}

/** Refuses lock strengths this layer cannot give (shared locks). */
export function checkLockRequest(lock: RowLockRequest): void {
  if (lock.strength !== 'update' && lock.strength !== 'no key update') {
    throw new InvalidInputError(`locking read strength ${JSON.stringify(lock.strength)} is not supported: use 'update' or 'no key update' (shared locks are not implemented)`);
  }
  if (lock.waitMs !== undefined && (!Number.isFinite(lock.waitMs) || lock.waitMs < 0)) {
    throw new InvalidInputError(`lock wait must be a non-negative number of ms, got ${String(lock.waitMs)}`);
  }
}

/**
 * `select ... for update` by primary keys: locks every key asked for,
 * present or not (an absent key stays absent until we commit: a concurrent
 * insert waits or conflicts), and returns the newest rows.
 */
export async function lockingGetMany(target: LockingReadTarget, storage: TableStorage, keysByShard: ReadonlyMap<number, readonly KeyTexts[]>, lock: RowLockRequest): Promise<Row[]> {
  checkLockRequest(lock);
  const table = storage.meta.name;
  const forUpdateTs = await target.locks.forUpdateTs();
  const locked = await target.locks.lock(storage, keysByShard, (shard) => ({ buffered: target.buffered(table, shard) }), forUpdateTs, lock.waitMs ?? target.ctx.lockWaitTimeoutMs);
  return recordLocked(target, table, locked);
}

/**
 * `select ... where <filter> for update`: finds the candidate keys with a
 * snapshot read at a fresh for_update_ts (rows matching the filter, and
 * keys whose pending image matches it), locks them, and returns the newest
 * image of each that (still) matches the filter, as Postgres's READ
 * COMMITTED locking reads re-check the filter on the newest row version.
 * With `through`, the candidates are an index's entries matching the
 * filter at for_update_ts instead of the rows of a scan (rows that match
 * at for_update_ts have their entries there; the lock re-checks them).
 * Rows that came to match after the scan are not locked (no predicate
 * locks; serializable mode still catches them at commit through the scanned
 * predicate, recorded at for_update_ts).
 */
export async function lockingSelect(
  target: LockingReadTarget,
  storage: TableStorage,
  query: ScanRequest & { lock: RowLockRequest },
  through?: CandidateSource,
): Promise<Row[]> {
  checkLockRequest(query.lock);
  const { ctx } = target;
  const table = storage.meta.name;
  const shards = query.shards ?? ctx.placement.shardIds();
  const forUpdateTs = await target.locks.forUpdateTs();
  // One map version for the candidate scans of every shard.
  const mapVersion = ctx.placement.map.version;
  const where = query.where ? dialect.sqlToQuery(query.where) : undefined;
  const wherePart = where ? { sql: where.sql, params: where.params } : undefined;
  const lockWait = query.lock.waitMs ?? ctx.lockWaitTimeoutMs;
  if (through) {
    const candidates = await through.candidates(forUpdateTs);
    const locked = await target.locks.lock(storage, candidates, (shard) => ({ where: wherePart, buffered: target.buffered(table, shard) }), forUpdateTs, lockWait);
    through.record(forUpdateTs);
    return recordLocked(target, table, locked);
  }
  const scans = await Promise.all(
    shards.map((shard) =>
      withSlotFilter((slotFilter) => runSnapshotRead(ctx.shards[shard]!, {
        storage,
        readTs: forUpdateTs,
        ownStartTs: target.startTs,
        mapVersion,
        slotFilter,
        where: query.where,
        orderBy: query.orderBy,
        limit: query.limit,
        buffered: target.buffered(table, shard),
      })),
    ),
  );
  const keysByShard = new Map<number, KeyTexts[]>();
  scans.forEach((scan, i) => {
    const seen = new Map<string, KeyTexts>();
    for (const keyTexts of [...scan.rows.map((row) => rowKeyTexts(storage, row)), ...scan.locks.map((l) => l.keyTexts)]) seen.set(keyIdOf(keyTexts), keyTexts);
    keysByShard.set(shards[i]!, [...seen.values()]);
  });
  const locked = await target.locks.lock(storage, keysByShard, (shard) => ({ where: wherePart, buffered: target.buffered(table, shard) }), forUpdateTs, lockWait);
  target.readSet?.addPredicate({ table, where: wherePart, shards, readTs: forUpdateTs });
  return recordLocked(target, table, locked);
}

function recordLocked(target: LockingReadTarget, table: string, locked: Awaited<ReturnType<PessimisticLocks['lock']>>): Row[] {
  const rows: Row[] = [];
  for (const key of locked) {
    target.readSet?.addKey({ table, keyTexts: key.keyTexts, shard: key.shard, readTs: key.readTs });
    if (key.row) rows.push(key.row);
  }
  return rows;
}

/**
 * Commit of a serializable transaction that wrote nothing but made locking
 * reads. Its locking reads saw versions newer than start_ts, so start_ts is
 * no longer a valid serialization point (a plain read at start_ts and a
 * locking read of a later version could show read skew). It serializes at a
 * fresh timestamp instead, after validating its reads up to it, while still
 * holding its locks (docs/ISOLATION.md).
 */
export async function validateLockingReadOnly(target: LockingReadTarget, isolation: 'snapshot' | 'serializable'): Promise<void> {
  if (isolation !== 'serializable' || !target.readSet) return;
  const { ctx } = target;
  const commitTs = await target.locks.forUpdateTs();
  await validateReadSet({
    isolation,
    startTs: target.startTs,
    commitTs,
    readSet: target.readSet,
    mutations: [],
    shards: ctx.shards,
    storageOf: (name) => ctx.storageOf(name),
  });
}
