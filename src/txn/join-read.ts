import { SnapshotTooOldError } from '../errors.js';
import { fromDriverValue } from '../shard/driver-values.js';
import { buildJoinRead, joinedColumn, type JoinReadRequest, type RawJoinRow } from '../shard/join-read-statement.js';
import type { ShardPool } from '../shard/shard-pool.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { JoinedRow, Row } from './engine-contract.js';
import type { FoundLock } from './found-lock.js';
import { foundLockOf, rowKeyTexts } from './snapshot-read.js';

/** A join read as the engine runs it: each table's storage is the engine's (locks are resolved against it). */
export interface ShardJoinRequest extends JoinReadRequest {
  readonly tables: readonly (JoinReadRequest['tables'][number] & { readonly storage: TableStorage })[];
}

export interface JoinShardResult {
  rows: JoinedRow[];
  /** Per table, the key texts of its rows in the result (for the read set). */
  keyTexts: string[][][];
  locks: FoundLock[];
}

/**
 * Runs one join read (src/shard/join-read-statement.ts) on one shard and
 * splits its rows into joined rows (JS values, as drizzle maps them) and
 * the locks it met; its GC row, if any, is SnapshotTooOldError.
 */
export async function runJoinRead(shard: ShardPool, request: ShardJoinRequest): Promise<JoinShardResult> {
  const query = buildJoinRead(request);
  const { rows } = await shard.query<RawJoinRow>({ text: query.sql, values: query.params }, { prepare: true });
  const result: JoinShardResult = { rows: [], keyTexts: request.tables.map(() => []), locks: [] };
  for (const raw of rows) {
    if (raw.__kind === 'g') throw new SnapshotTooOldError(request.readTs, BigInt(raw.__lock_start!), shard.name);
    if (raw.__kind === 'l') {
      result.locks.push(foundLockOf(shard, request.tables[raw.__t!]!.storage, raw));
      continue;
    }
    result.rows.push(
      request.tables.map(({ storage }, t) => {
        const columns = storage.meta.columns;
        // A left join's missing row: every column null, its key's first column included (keys are never null).
        if (raw[joinedColumn(t, columns.indexOf(storage.pk[0]!))] === null) return null;
        const row: Row = {};
        columns.forEach((c, i) => (row[c.key] = fromDriverValue(c, raw[joinedColumn(t, i)])));
        result.keyTexts[t]!.push(rowKeyTexts(storage, row));
        return row;
      }),
    );
  }
  return result;
}
