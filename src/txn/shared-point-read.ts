import type { TableStorage } from '../shard/table-storage.js';
import { buildSharedPointRead, type SharedPointReadMember } from '../shard/point-read-statements.js';
import { readRowLayout, type ReadRowValues } from '../shard/read-row-columns.js';
import { splitReadRows, type ShardReadResult } from './snapshot-read.js';
import { MemberFailure, type ShareableStatement } from './shared-statements.js';

/** One transaction's point read of stored keys (nothing buffered) on one (shard, table). */
export interface SharedPointReadRequest extends SharedPointReadMember {
  readonly storage: TableStorage;
}

/** Splits a shared statement's rows by reader (__ord carries its index); the GC row goes to every reader older than the safe point. */
export const pointReadStatement: ShareableStatement<SharedPointReadRequest, ShardReadResult> = {
  queue: (request) => request.storage.meta.name,
  async run(shard, requests) {
    const storage = requests[0]!.storage;
    const query = buildSharedPointRead(storage, requests);
    const { rows, columns = [] } = await shard.query<ReadRowValues>({ text: query.sql, values: query.params }, { prepare: true, rowMode: 'array' });
    const layout = readRowLayout(columns, storage.meta.columns);
    const byReader = requests.map((): ReadRowValues[] => []);
    const gc = rows.filter((r) => r[layout.kind] === 'g');
    for (const row of rows) if (row[layout.kind] !== 'g') byReader[Number(row[layout.ord])]!.push(row);
    return requests.map((request, i) => {
      try {
        return splitReadRows(shard, storage, request.readTs, [...gc.filter((g) => BigInt(g[layout.lockStart] as string) > request.readTs), ...byReader[i]!], layout);
      } catch (error) {
        return new MemberFailure(error);
      }
    });
  },
  keys: (request) => request.keys.map((keyTexts) => ({ table: request.storage.meta.name, keyTexts })),
  keysMayRepeat: true,
};

