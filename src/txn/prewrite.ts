import { UniqueViolationError, WriteConflictError } from '../errors.js';
import type { PrewriteConflictRow } from '../shard/prewrite-statements.js';
import type { Timestamp } from '../timestamp.js';
import { fitsOneChunk, rowBytes, tableChunks } from './table-chunks.js';
import type { EngineContext } from './engine-context.js';
import type { FoundLock } from './found-lock.js';
import type { Mutation } from './mutation.js';
import { isPostgresAbort } from '../shard/shard-errors.js';

export interface PrewriteRequest {
  readonly startTs: Timestamp;
  readonly primary: Mutation;
  readonly ttlMs: number;
  /**
   * Whether the primary's shard may prewrite without waiting for its WAL
   * flush: only when no durable row of this transaction is there yet (no
   * pessimistic locks), see below.
   */
  readonly lazyPrimaryShard: boolean;
}

/**
 * Prewrite of one shard's keys: one local Postgres transaction (one call of
 * the table's prewrite function per chunk; a single statement for the usual
 * one-chunk case) that writes a lock row per key (pending image, pointer to
 * the primary, TTL) and then checks, in a statement whose snapshot follows
 * the lock inserts, that no key has a version with commit_ts >= start_ts
 * (rollback markers included), a lock of another transaction, or (for
 * inserts) a live row. Any hit leaves none of our locks on the shard.
 *
 * A conflicting lock is handed to the lock resolver once (a crashed owner's
 * expired lock gets cleaned) before the retryable WriteConflictError.
 */
export async function prewriteShard(ctx: EngineContext, shardIndex: number, mutations: readonly Mutation[], request: PrewriteRequest): Promise<void> {
  const shard = ctx.shards[shardIndex]!;
  const { startTs, primary, ttlMs } = request;
  const limits = { rows: ctx.chunkRows, bytes: ctx.chunkBytes };
  let found: { rows: readonly Mutation[]; conflict: PrewriteConflictRow } | undefined;
  // The primary's shard need not wait for its WAL flush here: commitPrimary
  // commits on the same server, and its (synchronous) commit record can only
  // be durable once every earlier WAL record, these locks included, is. Lost
  // in a crash before that, the locks take the transaction with them:
  // commitPrimary finds no primary lock and commits nothing. Anyone else who
  // acts durably on one of these locks (a push, a rollback marker) flushes
  // the WAL past it too. Not so when our pessimistic locks are already
  // durable there: a lost upgrade would leave the old lock row for
  // commitPrimary to find (commitKeys refuses a primary still marked
  // for_update, as a second line). Other shards' locks must be durable
  // before the commit point on the primary's shard: they always wait.
  const lazy = request.lazyPrimaryShard && shardIndex === primary.shard;
  const header = { startTs, primaryTable: primary.storage.meta.name, primaryKey: primary.keyTexts, ttlMs };
  const check = (rows: readonly Mutation[], conflicts: PrewriteConflictRow[]): void => {
    if (conflicts.length === 0) return;
    found = { rows, conflict: pickConflict(conflicts) };
    throw new PrewriteConflict();
  };
  try {
    if (fitsOneChunk(mutations, limits, rowBytes)) {
      // The common case: one statement for every table of the shard is the whole local transaction, shared with other transactions'.
      const tables = tableChunks(mutations, { rows: Infinity, bytes: Infinity }).map((chunk) => ({ storage: chunk.storage, rows: chunk.rows }));
      check(mutations, await ctx.prewrites.submit(shard, { ...header, tables, lazy }));
    } else {
      await shard.transaction(async (client) => {
        for (const chunk of tableChunks(mutations, limits, rowBytes)) {
          check(chunk.rows, (await shard.query<PrewriteConflictRow>(chunk.storage.prewriteShared([{ ...header, rows: chunk.rows }]), { client, prepare: true })).rows);
        }
      });
    }
  } catch (error) {
    if (error instanceof PrewriteConflict && found) throw await conflictError(ctx, shardIndex, startTs, found.rows, found.conflict);
    if (isPostgresAbort(error)) {
      // Two prewrites of one shard waiting on each other's lock rows: Postgres picked us.
      const m = mutations[0]!;
      throw new WriteConflictError(m.storage.meta.name, m.key, startTs, startTs, 'locked');
    }
    throw error;
  }
}

class PrewriteConflict extends Error {}

// Unique violations first (not retryable, the caller must know), then versions, then locks.
function pickConflict(rows: PrewriteConflictRow[]): PrewriteConflictRow {
  return rows.find((r) => r.kind === 'exists') ?? rows.find((r) => r.kind === 'version') ?? rows[0]!;
}

async function conflictError(ctx: EngineContext, shard: number, startTs: Timestamp, chunk: readonly Mutation[], conflict: PrewriteConflictRow): Promise<Error> {
  const m = chunk[conflict.i]!;
  const table = m.storage.meta.name;
  const ts = BigInt(conflict.ts);
  if (conflict.kind === 'exists' && ts < startTs) {
    // A row or unique index entry that existed at our snapshot: the constraint is violated, named with the values it holds.
    // (One committed since was not there when the transaction looked: a write conflict, retried below, and the retry sees
    // it, so an upsert updates it and an insert fails with UniqueViolationError, as in Postgres.)
    const index = m.storage.meta.indexOf;
    if (index) return new UniqueViolationError(index.table.name, index.columns.map((c) => m.row?.[c.key]), index.name);
    return new UniqueViolationError(table, m.key);
  }
  if (conflict.kind === 'exists') return new WriteConflictError(table, m.key, startTs, ts, 'newer-version');
  // Our lock was skipped for another one that has gone since: retry from a new snapshot.
  if (conflict.kind === 'unlocked') return new WriteConflictError(table, m.key, startTs, startTs, 'locked');
  if (conflict.kind === 'version') return new WriteConflictError(table, m.key, startTs, ts, conflict.op === 'rollback' && ts === startTs ? 'rolled-back' : 'newer-version');
  const lock: FoundLock = {
    storage: m.storage,
    shard,
    keyTexts: m.keyTexts,
    startTs: ts,
    primaryTable: conflict.primary_table!,
    primaryKey: conflict.primary_key!,
    expired: conflict.expired === true,
  };
  await ctx.resolver.resolveLocks([lock]).catch((error: unknown) => ctx.logger.debug({ err: error }, 'resolving a conflicting lock failed'));
  return new WriteConflictError(table, m.key, startTs, ts, 'locked');
}
