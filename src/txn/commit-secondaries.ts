import type { Timestamp } from '../timestamp.js';
import { tableChunks } from './table-chunks.js';
import type { CommitHookInfo } from './commit-hooks.js';
import type { EngineContext } from './engine-context.js';
import type { Mutation } from './mutation.js';

/**
 * After the commit point: every other key's lock becomes a version at
 * commit_ts, one statement per (shard, table chunk), shards in parallel
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
      for (const chunk of tableChunks(mutations, { rows: ctx.chunkRows, bytes: ctx.chunkBytes })) {
        // Lazy durability: a commit lost in a crash leaves the lock, which readers roll forward.
        const keys = chunk.rows.map((m) => m.keyTexts);
        await ctx.commits.submit(shard, chunk.storage, { startTs, commitTs, keys, guarded: false, lazy: true });
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
