import type { Timestamp } from '../timestamp.js';
import { tableChunks } from './table-chunks.js';
import type { EngineContext } from './engine-context.js';
import type { Mutation } from './mutation.js';

/**
 * Rolls back our own prewrites: deletes this transaction's locks on every
 * shard it may have prewritten, and leaves a rollback marker on the primary
 * so that nothing (not even a replay of this transaction's commit) can
 * commit it later. One statement per (shard, table chunk), shards in
 * parallel; best effort: a lock left behind (shard down) is rolled back by
 * lock resolution once its TTL has run out.
 */
export async function rollbackShards(ctx: EngineContext, startTs: Timestamp, groups: ReadonlyMap<number, readonly Mutation[]>, primary: Mutation): Promise<void> {
  await Promise.all(
    [...groups].map(async ([shardIndex, mutations]) => {
      const shard = ctx.shards[shardIndex]!;
      for (const chunk of tableChunks(mutations, { rows: ctx.chunkRows, bytes: ctx.chunkBytes })) {
        const statement = chunk.storage.rollbackKeys(
          startTs,
          chunk.rows.map((m) => m.keyTexts),
          chunk.rows.map((m) => m === primary),
        );
        try {
          await shard.query(statement, { prepare: true });
        } catch (error) {
          ctx.logger.warn({ shard: shardIndex, err: error }, 'rollback of prewritten locks failed; lock resolution will clean up');
          return;
        }
      }
    }),
  );
}
