import { UniqueViolationError, WriteConflictError } from '../errors.js';
import type { PrewriteConflictRow } from '../shard/table-storage.js';
import type { Timestamp } from '../timestamp.js';
import { tableChunks } from './batches.js';
import type { EngineContext } from './engine-context.js';
import type { FoundLock } from './lock-resolver.js';
import type { Mutation } from './mutation.js';

export interface PrewriteRequest {
  readonly startTs: Timestamp;
  readonly primary: Mutation;
  readonly ttlMs: number;
}

/**
 * Prewrite of one shard's keys: one local Postgres transaction that writes
 * a lock row per key (pending image, pointer to the primary, TTL) and then
 * checks, in a statement whose snapshot follows the lock inserts, that no
 * key has a version with commit_ts >= start_ts (rollback markers included),
 * a lock of another transaction, or (for inserts) a live row. Any hit
 * aborts the local transaction: the shard then holds none of our locks.
 *
 * A conflicting lock is handed to the lock resolver once (a crashed owner's
 * expired lock gets cleaned) before the retryable WriteConflictError.
 */
export async function prewriteShard(ctx: EngineContext, shardIndex: number, mutations: readonly Mutation[], request: PrewriteRequest): Promise<void> {
  const shard = ctx.shards[shardIndex]!;
  const { startTs, primary, ttlMs } = request;
  let found: { chunk: Mutation[]; conflict: PrewriteConflictRow } | undefined;
  try {
    await shard.transaction(async (client) => {
      for (const chunk of tableChunks(mutations, ctx.batchRows)) {
        await shard.query(chunk.storage.prewriteInsert(startTs, primary.storage.meta.name, primary.keyTexts, ttlMs, chunk.rows), { client, prepare: true });
        const { rows } = await shard.query<PrewriteConflictRow>(chunk.storage.prewriteCheck(startTs, chunk.rows), { client, prepare: true });
        if (rows.length > 0) {
          found = { chunk: chunk.rows, conflict: pickConflict(rows) };
          throw new PrewriteConflict();
        }
      }
    });
  } catch (error) {
    if (error instanceof PrewriteConflict && found) throw await conflictError(ctx, shardIndex, startTs, found.chunk, found.conflict);
    if (isPostgresDeadlock(error)) {
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

async function conflictError(ctx: EngineContext, shard: number, startTs: Timestamp, chunk: Mutation[], conflict: PrewriteConflictRow): Promise<Error> {
  const m = chunk[conflict.i]!;
  const table = m.storage.meta.name;
  const ts = BigInt(conflict.ts);
  if (conflict.kind === 'exists') return new UniqueViolationError(table, m.key);
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
  await ctx.resolver.resolveLocks([lock]).catch((error: unknown) => ctx.logger.debug({ err: String(error) }, 'resolving a conflicting lock failed'));
  return new WriteConflictError(table, m.key, startTs, ts, 'locked');
}

function isPostgresDeadlock(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === '40P01' || code === '40001';
}
