import type { KeyTexts } from '../shard/key-text.js';
import type { LockWrite, PieceConflictRow, PrewriteConflictRow, TablePrewrite } from '../shard/prewrite-statements.js';
import { prewriteTables } from '../shard/prewrite-statements.js';
import type { TableStorage } from '../shard/table-storage.js';
import { rowBytes } from './table-chunks.js';
import type { ShareableStatement } from './shared-statements.js';
import { tablePieces } from './table-pieces.js';

/** One transaction's prewrite of one shard (one chunk, of one or several tables), in a shared statement. */
export interface SharedPrewriteRequest {
  readonly startTs: bigint;
  readonly primaryTable: string;
  readonly primaryKey: KeyTexts;
  readonly ttlMs: number;
  /** The rows, per table (each table once). */
  readonly tables: readonly { readonly storage: TableStorage; readonly rows: readonly LockWrite[] }[];
  /** May skip waiting for the WAL flush (see prewriteShard); a shared statement is lazy only if all its members are. */
  readonly lazy: boolean;
}

/**
 * prewriteTables: one statement per shard for every table its members
 * write; resolves each transaction's conflict rows, `i` indexing its own
 * rows (its tables' rows in the order of `tables`).
 */
export const prewriteStatement: ShareableStatement<SharedPrewriteRequest, PrewriteConflictRow[]> = {
  queue: () => '',
  bytes: (request) => request.tables.reduce((sum, t) => t.rows.reduce((n, m) => n + rowBytes(m), sum), 0),
  async run(shard, requests) {
    const lazy = requests.every((r) => r.lazy);
    const pieces = tablePieces(
      requests,
      (member, table) => {
        const { startTs, primaryTable, primaryKey, ttlMs } = requests[member]!;
        return { startTs, primaryTable, primaryKey, ttlMs, rows: table.rows };
      },
      (table) => table.rows.length,
    );
    const statement = prewriteTables(pieces.map((p): TablePrewrite => ({ table: p.storage, entries: p.entries.map((e) => e.entry) })));
    const { rows } = await shard.query<PieceConflictRow>(statement, { prepare: true, lazy });
    const conflicts = requests.map((): PrewriteConflictRow[] => []);
    for (const row of rows) {
      const piece = pieces[row.piece ?? 0]!;
      // The entry (member) whose rows of this table hold row.i.
      let n = piece.entries.length - 1;
      while (piece.entries[n]!.firstRow > row.i) n--;
      const { member, rowOffset, firstRow } = piece.entries[n]!;
      const { piece: _, ...conflict } = row;
      conflicts[member]!.push({ ...conflict, i: row.i - firstRow + rowOffset });
    }
    return conflicts;
  },
  keys: (request) => request.tables.flatMap((t) => t.rows.map((r) => ({ table: t.storage.meta.name, keyTexts: r.keyTexts }))),
};
