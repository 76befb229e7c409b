import type { CommitBatchEntry } from '../shard/commit-statements.js';
import type { BatchedStatement } from './statement-batcher.js';

/** One transaction's commit of one (shard, table) chunk. */
export interface BatchedCommit extends CommitBatchEntry {
  /** May skip waiting for the WAL flush (commit-secondaries.ts says when); a batch is lazy only if all its members are. */
  readonly lazy: boolean;
}

/** commitBatch as a shared statement: resolves, per transaction, whether it wrote versions (false: nothing committed, e.g. its primary lock was gone). */
export const commitStatement: BatchedStatement<BatchedCommit, boolean> = {
  async run(shard, storage, requests) {
    const lazy = requests.every((r) => r.lazy);
    const { rows } = await shard.query<{ start_ts: string }>(storage.commitBatch(requests), { prepare: true, lazy });
    const written = new Set(rows.map((r) => BigInt(r.start_ts)));
    return requests.map((r) => written.has(r.startTs));
  },
  keys: (request) => request.keys,
};

