import type { PrewriteConflictRow, PrewriteEntry } from '../shard/prewrite-statements.js';
import { rowBytes } from './table-chunks.js';
import type { ShareableStatement } from './shared-statements.js';

/** One transaction's prewrite of one (shard, table) chunk, in a shared statement. */
export interface SharedPrewriteRequest extends PrewriteEntry {
  /** May skip waiting for the WAL flush (see prewriteShard); a shared statement is lazy only if all its members are. */
  readonly lazy: boolean;
}

/** prewriteShared: resolves each transaction's conflict rows, `i` indexing its own rows. */
export const prewriteStatement: ShareableStatement<SharedPrewriteRequest, PrewriteConflictRow[]> = {
  bytes: (request) => request.rows.reduce((sum, m) => sum + rowBytes(m), 0),
  async run(shard, storage, requests) {
    const lazy = requests.every((r) => r.lazy);
    const { rows } = await shard.query<PrewriteConflictRow>(storage.prewriteShared(requests), { prepare: true, lazy });
    const conflicts = requests.map((): PrewriteConflictRow[] => []);
    if (rows.length === 0) return conflicts;
    const firstRow: number[] = [];
    let offset = 0;
    for (const r of requests) {
      firstRow.push(offset);
      offset += r.rows.length;
    }
    for (const row of rows) {
      let member = firstRow.length - 1;
      while (firstRow[member]! > row.i) member--;
      conflicts[member]!.push({ ...row, i: row.i - firstRow[member]! });
    }
    return conflicts;
  },
  keys: (request) => request.rows.map((r) => r.keyTexts),
};
