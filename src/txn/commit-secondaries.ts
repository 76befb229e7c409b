import type { Timestamp } from '../timestamp.js';
import { fitsOneChunk, tableChunks } from './table-chunks.js';
import type { CommitHookInfo } from './commit-hooks.js';
import type { EngineContext } from './engine-context.js';
import type { Mutation } from './mutation.js';

/**
 * After the commit point: every other key's lock becomes a version at
 * commit_ts, one statement per shard (per table chunk when they do not fit
 * in one), shards in parallel
 * (one at a time when a `midSecondaries` hook is set). Failures are only
 * logged: the transaction is committed, and a reader meeting a leftover
 * lock rolls it forward from the primary's version. Resolves whether every
 * shard's statement succeeded.
 */
export async function commitSecondaries(
  ctx: EngineContext,
  startTs: Timestamp,
  commitTs: Timestamp,
  groups: ReadonlyMap<number, readonly Mutation[]>,
  hookInfo: CommitHookInfo,
): Promise<boolean> {
  const commitShard = async (shardIndex: number, mutations: readonly Mutation[]): Promise<boolean> => {
    const shard = ctx.shards[shardIndex]!;
    try {
      const limits = { rows: ctx.chunkRows, bytes: ctx.chunkBytes };
      // One statement for every table of the shard when they fit in one chunk, else one per table chunk.
      const chunks = tableChunks(mutations, fitsOneChunk(mutations, limits) ? { rows: Infinity, bytes: Infinity } : limits);
      const statements = fitsOneChunk(mutations, limits) ? [chunks] : chunks.map((chunk) => [chunk]);
      for (const statement of statements) {
        // Lazy durability: a commit lost in a crash leaves the lock, which readers roll forward.
        const tables = statement.map((chunk) => ({ storage: chunk.storage, keys: chunk.rows.map((m) => m.keyTexts) }));
        await ctx.commits.submit(shard, { startTs, commitTs, tables, guarded: false, lazy: true });
      }
      return true;
    } catch (error) {
      ctx.logger.warn({ shard: shardIndex, err: error }, 'committing secondaries failed; readers will roll them forward');
      return false;
    }
  };
  const entries = [...groups];
  if (ctx.hooks.midSecondaries) {
    let allWritten = true;
    for (const [i, [shardIndex, mutations]] of entries.entries()) {
      allWritten = (await commitShard(shardIndex, mutations)) && allWritten;
      if (i === 0) await ctx.hooks.midSecondaries(hookInfo);
    }
    return allWritten;
  }
  return (await Promise.all(entries.map(([shardIndex, mutations]) => commitShard(shardIndex, mutations)))).every(Boolean);
}
