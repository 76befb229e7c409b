import { SnapshotTooOldError } from '../errors.js';
import { fromDriverValue } from '../shard/driver-values.js';
import { keyTextOf } from '../shard/key-text.js';
import type { RawReadRow } from '../shard/read-row-columns.js';
import type { ShardPool } from '../shard/shard-pool.js';
import { buildSnapshotRead, type SnapshotReadRequest } from '../shard/snapshot-read-statement.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { Timestamp } from '../timestamp.js';
import type { Row } from './engine-contract.js';
import type { FoundLock } from './found-lock.js';

/** A snapshot read as the engine runs it: the storage it reads is the engine's (its locks are resolved against it). */
export interface ShardReadRequest extends SnapshotReadRequest {
  readonly storage: TableStorage;
}

export interface ShardReadResult {
  rows: Row[];
  /** Per row, the key's driver-independent text form (for the read set). */
  keyTexts: string[][];
  locks: FoundLock[];
}

export async function runSnapshotRead(shard: ShardPool, request: ShardReadRequest): Promise<ShardReadResult> {
  return runRead(shard, request.storage, request.readTs, buildSnapshotRead(request));
}

/**
 * Runs a read statement built by buildSnapshotRead or buildPointRead and
 * splits its result into rows (JS values, as drizzle maps them) and locks.
 */
export async function runRead(shard: ShardPool, storage: TableStorage, readTs: Timestamp, query: { sql: string; params: unknown[] }): Promise<ShardReadResult> {
  // Prepared by text: a read shape repeated with new parameters (the common
  // case: point reads, the same filter) is parsed and planned once per connection.
  const { rows } = await shard.query<RawReadRow>({ text: query.sql, values: query.params }, { prepare: true });
  return splitReadRows(shard, storage, readTs, rows);
}

/** A read statement's rows as rows (JS values), key texts and locks; its GC row, if any, as SnapshotTooOldError. */
export function splitReadRows(shard: ShardPool, storage: TableStorage, readTs: Timestamp, rows: readonly RawReadRow[]): ShardReadResult {
  const result: ShardReadResult = { rows: [], keyTexts: [], locks: [] };
  for (const raw of rows) {
    if (raw.__kind === 'g') throw new SnapshotTooOldError(readTs, BigInt(raw.__lock_start!), shard.name);
    if (raw.__kind === 'l') {
      result.locks.push(foundLockOf(shard, storage, raw));
      continue;
    }
    const row: Row = {};
    for (const c of storage.meta.columns) row[c.key] = fromDriverValue(c, raw[c.name]);
    result.rows.push(row);
    result.keyTexts.push(storage.pk.map((c) => keyTextOf(c, row[c.key]) ?? ''));
  }
  return result;
}

/** The lock a read row of kind 'l' describes (its LOCK_INFO_COLUMNS). */
export function foundLockOf(shard: ShardPool, storage: TableStorage, raw: Pick<RawReadRow, '__lock_key' | '__lock_start' | '__primary_table' | '__primary_key' | '__expired'>): FoundLock {
  return {
    storage,
    shard: shard.index,
    keyTexts: raw.__lock_key!,
    startTs: BigInt(raw.__lock_start!),
    primaryTable: raw.__primary_table!,
    primaryKey: raw.__primary_key!,
    expired: raw.__expired === true,
  };
}
