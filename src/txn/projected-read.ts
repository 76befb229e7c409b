import { SnapshotTooOldError } from '../errors.js';
import { buildProjectedRead, projectedColumn, type ProjectedReadRequest, type RawProjectedRow } from '../shard/projected-read-statement.js';
import type { ShardPool } from '../shard/shard-pool.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { ProjectedRow } from './engine-contract.js';
import type { FoundLock } from './found-lock.js';
import { foundLockOf } from './snapshot-read.js';

/** A projected read as the engine runs it: the storage it reads is the engine's (its locks are resolved against it). */
export interface ShardProjectionRequest extends ProjectedReadRequest {
  readonly storage: TableStorage;
}

export interface ProjectedShardResult {
  /** Per output row, the raw driver values of the request's expressions, in order. */
  rows: ProjectedRow[];
  locks: FoundLock[];
}

/**
 * Runs one projected read (src/shard/projected-read-statement.ts) on one
 * shard and splits its rows into output tuples and the locks it met; its GC
 * row, if any, is SnapshotTooOldError.
 */
export async function runProjectedRead(shard: ShardPool, request: ShardProjectionRequest): Promise<ProjectedShardResult> {
  const query = buildProjectedRead(request);
  const { rows } = await shard.query<RawProjectedRow>({ text: query.sql, values: query.params }, { prepare: true });
  const result: ProjectedShardResult = { rows: [], locks: [] };
  const width = request.select.length;
  for (const raw of rows) {
    if (raw.__kind === 'g') throw new SnapshotTooOldError(request.readTs, BigInt(raw.__lock_start!), shard.name);
    if (raw.__kind === 'l') {
      result.locks.push(foundLockOf(shard, request.storage, raw));
      continue;
    }
    const row = new Array<unknown>(width);
    for (let i = 0; i < width; i++) row[i] = raw[projectedColumn(i)];
    result.rows.push(row);
  }
  return result;
}
