import type { SharedCommitEntry } from '../shard/commit-statements.js';
import type { ShareableStatement } from './shared-statements.js';
import type { StoredColumns } from './stored-columns.js';

/** One transaction's commit of one (shard, table) chunk. */
export interface SharedCommitRequest extends SharedCommitEntry {
  /** May skip waiting for the WAL flush (commit-secondaries.ts says when); a shared statement is lazy only if all its members are. */
  readonly lazy: boolean;
}

/**
 * commitShared as a shared statement: resolves, per transaction, whether it
 * wrote versions (false: nothing committed, e.g. its primary lock was gone).
 * Built with the columns the shard stores (stored-columns.ts).
 */
export const commitStatement = (storedColumns: StoredColumns): ShareableStatement<SharedCommitRequest, boolean> => ({
  async run(shard, storage, requests) {
    const lazy = requests.every((r) => r.lazy);
    const { rows } = await storedColumns.run(shard.index, (on) => shard.query<{ start_ts: string }>(on(storage).commitShared(requests), { prepare: true, lazy }));
    const written = new Set(rows.map((r) => BigInt(r.start_ts)));
    return requests.map((r) => written.has(r.startTs));
  },
  keys: (request) => request.keys,
});

