import type { KeyTexts } from '../shard/key-text.js';
import { commitTables, type SharedCommitEntry } from '../shard/commit-statements.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { ShareableStatement } from './shared-statements.js';
import type { StoredColumns } from './stored-columns.js';
import { tablePieces } from './table-pieces.js';

/** One transaction's commit of one shard (one chunk, of one or several tables). */
export interface SharedCommitRequest {
  readonly startTs: bigint;
  readonly commitTs: bigint;
  /** The keys, per table (each table once); when guarded, the first key of the first table is the primary. */
  readonly tables: readonly { readonly storage: TableStorage; readonly keys: readonly KeyTexts[] }[];
  /** Commit only if the primary's lock is still ours and not pushed past commitTs (commitPrimary). */
  readonly guarded: boolean;
  /** May skip waiting for the WAL flush (commit-secondaries.ts says when); a shared statement is lazy only if all its members are. */
  readonly lazy: boolean;
}

/**
 * commitTables as a shared statement, one per shard for every table its
 * members commit: resolves, per transaction, whether it wrote versions
 * (false: nothing committed, e.g. its primary lock was gone). Built with
 * the columns the shard stores of each table (stored-columns.ts).
 */
export const commitStatement = (storedColumns: StoredColumns): ShareableStatement<SharedCommitRequest, boolean> => ({
  queue: () => '',
  async run(shard, requests) {
    const lazy = requests.every((r) => r.lazy);
    const pieces = tablePieces(
      requests,
      (member, table, index): SharedCommitEntry => {
        const { startTs, commitTs, guarded } = requests[member]!;
        return { startTs, commitTs, keys: table.keys, guarded, holdsPrimary: index === 0 };
      },
      (table) => table.keys.length,
    );
    const { rows } = await storedColumns.run(shard.index, (on) =>
      shard.query<{ start_ts: string }>(commitTables(pieces.map((p) => ({ table: on(p.storage), entries: p.entries.map((e) => e.entry) }))), { prepare: true, lazy }),
    );
    const written = new Set(rows.map((r) => BigInt(r.start_ts)));
    return requests.map((r) => written.has(r.startTs));
  },
  keys: (request) => request.tables.flatMap((t) => t.keys.map((keyTexts) => ({ table: t.storage.meta.name, keyTexts }))),
});
