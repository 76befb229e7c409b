import { CommitUndeterminedError, ShardUnavailableError, TransactionAbortedError } from '../errors.js';
import type { Timestamp } from '../timestamp.js';
import { formatTimestamp } from '../timestamp.js';
import type { PoolClient } from 'pg';
import type { ShardPool } from '../shard/shard-pool.js';
import { fitsOneChunk, tableChunks } from './table-chunks.js';
import type { EngineContext } from './engine-context.js';
import type { Mutation } from './mutation.js';
import { isPostgresAbort } from '../shard/shard-errors.js';
import { wasNotSent } from '../shard/statement-not-sent.js';

/**
 * The commit point. In one local transaction on the primary's shard: our
 * primary lock must still be there (a resolver may have rolled us back
 * after our TTL ran out); its image becomes the version at commit_ts and
 * the lock is deleted. When every key lives on that shard, all of them are
 * committed in the same local transaction and there are no secondaries.
 *
 *  - lock gone, no version of ours: TransactionAbortedError (definite);
 *  - the shard unavailable before anything of the commit was sent (no
 *    connection, no primary among its hosts during a failover, the
 *    statement waited unsent: statement-not-sent.ts): TransactionAbortedError
 *    (definite: nobody else commits our primary, and we do not try again);
 *  - any failure that leaves the outcome unknown (connection lost, timeout,
 *    shard restart while the statement or COMMIT was in flight):
 *    CommitUndeterminedError, never a plain failure.
 */
export async function commitPrimary(
  ctx: EngineContext,
  startTs: Timestamp,
  commitTs: Timestamp,
  primary: Mutation,
  sameShard: readonly Mutation[] | undefined,
): Promise<void> {
  const shard = ctx.shards[primary.shard]!;
  const others = sameShard?.filter((m) => m !== primary) ?? [];
  try {
    const limits = { rows: ctx.chunkRows, bytes: ctx.chunkBytes };
    const all = [primary, ...others];
    if (fitsOneChunk(all, limits)) {
      // One chunk: one statement for every table of the shard, guarded by the primary's lock, sent with other transactions' commits.
      const tables = tableChunks(others, { rows: Infinity, bytes: Infinity }).map((chunk) => ({ storage: chunk.storage, keys: chunk.rows.map((m) => m.keyTexts) }));
      const own = tables.find((t) => t.storage === primary.storage);
      const first = { storage: primary.storage, keys: [primary.keyTexts, ...(own?.keys ?? [])] };
      const written = await ctx.commits.submit(shard, { startTs, commitTs, tables: [first, ...tables.filter((t) => t !== own)], guarded: true, lazy: false });
      if (!written) await explainMissingLock(shard, startTs, commitTs, primary);
      return;
    }
    // Built with the columns the shard stores (stored-columns.ts); a refused copy rolls back the whole local transaction.
    await ctx.storedColumns.run(primary.shard, (on) =>
      shard.transaction(async (client) => {
        const result = await shard.query(on(primary.storage).commitKeys(startTs, commitTs, [primary.keyTexts]), { client, prepare: true });
        if (result.rowCount === 0) await explainMissingLock(shard, startTs, commitTs, primary, client);
        for (const chunk of tableChunks(others, limits)) {
          await shard.query(on(chunk.storage).commitKeys(startTs, commitTs, chunk.rows.map((m) => m.keyTexts)), { client, prepare: true });
        }
      }),
    );
  } catch (error) {
    if (error instanceof TransactionAbortedError || error instanceof CommitTsPushedError) throw error;
    const why = error instanceof Error ? error.message : String(error);
    // Postgres aborted our statement (a deadlock with another statement on these
    // rows): its local transaction rolled back, so nothing committed. Definite.
    if (error instanceof ShardUnavailableError && wasNotSent(error)) {
      throw new TransactionAbortedError(`commit of transaction ${formatTimestamp(startTs)} was not sent, so nothing of it committed: ${why}`, { cause: error });
    }
    if (isPostgresAbort(error)) {
      throw new TransactionAbortedError(`commit of transaction ${formatTimestamp(startTs)} was aborted by Postgres before it committed: ${why}`, { cause: error });
    }
    throw new CommitUndeterminedError(`commit of transaction ${formatTimestamp(startTs)} undetermined: ${why}`, startTs, { cause: error });
  }
}

/**
 * Nothing was committed: a reader at a snapshot >= our commit_ts pushed our
 * primary lock's min_commit_ts (lock-resolver.ts) instead of waiting for us.
 * The committer takes a newer commit_ts and commits the primary again.
 */
export class CommitTsPushedError extends Error {
  constructor(readonly minCommitTs: Timestamp) {
    super(`primary lock pushed to commit at or above ${formatTimestamp(minCommitTs)}`);
  }
}

/**
 * commitPrimary changed nothing: our primary lock was pushed past commitTs
 * (CommitTsPushedError), or it is gone: already committed by us (a replay),
 * or rolled back by a resolver (TransactionAbortedError).
 */
async function explainMissingLock(shard: ShardPool, startTs: Timestamp, commitTs: Timestamp, primary: Mutation, client?: PoolClient): Promise<void> {
  const lock = (await shard.query<{ min_commit_ts: string }>(primary.storage.lockMinCommitTs(startTs, primary.keyTexts), { client, prepare: true })).rows[0];
  if (lock && BigInt(lock.min_commit_ts) > commitTs) throw new CommitTsPushedError(BigInt(lock.min_commit_ts));
  const { rows } = await shard.query<{ commit_ts: string; op: string }>(primary.storage.versionByStartTs(startTs, primary.keyTexts), { client, prepare: true });
  const version = rows[0];
  if (version && version.op !== 'rollback' && BigInt(version.commit_ts) === commitTs) return;
  throw new TransactionAbortedError(
    `transaction ${formatTimestamp(startTs)} lost its primary lock before it could commit: another client rolled it back (its lock TTL ran out), or the primary's shard restarted and lost it`,
  );
}
