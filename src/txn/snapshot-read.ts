import { SnapshotTooOldError } from '../errors.js';
import { fromDriverValue } from '../shard/driver-values.js';
import { keyTextOf } from '../shard/key-text.js';
import { lockColumnsOf, readRowLayout, type RawReadRow, type ReadRowLayout, type ReadRowValues } from '../shard/read-row-columns.js';
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

/** What a read of one shard found: its rows (JS values) and the locks in its way. */
export interface ShardReadResult {
  rows: Row[];
  locks: FoundLock[];
}

/**
 * A read row's key as texts (null as ''), as the read set and lock
 * resolution name keys: computed from the row where needed, not for
 * every row read (a snapshot transaction's scan needs none).
 */
export function rowKeyTexts(storage: TableStorage, row: Row): string[] {
  const texts = new Array<string>(storage.pk.length);
  for (let i = 0; i < storage.pk.length; i++) texts[i] = keyTextOf(storage.pk[i]!, row[storage.pk[i]!.key]) ?? '';
  return texts;
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
  // Array rows: the driver's own array per row, no object keyed by column name.
  const { rows, columns = [] } = await shard.query<ReadRowValues>({ text: query.sql, values: query.params }, { prepare: true, rowMode: 'array' });
  return splitReadRows(shard, storage, readTs, rows, readRowLayout(columns, storage.meta.columns));
}

/**
 * A read statement's array rows as rows (JS values) and locks; its GC row,
 * if any, as SnapshotTooOldError. One object per row read: the row itself.
 */
export function splitReadRows(shard: ShardPool, storage: TableStorage, readTs: Timestamp, rows: readonly ReadRowValues[], layout: ReadRowLayout): ShardReadResult {
  const result: ShardReadResult = { rows: [], locks: [] };
  const columns = storage.meta.columns;
  const positions = layout.columns;
  for (const raw of rows) {
    const kind = raw[layout.kind];
    if (kind === 'g') throw new SnapshotTooOldError(readTs, BigInt(raw[layout.lockStart] as string), shard.name);
    if (kind === 'l') {
      result.locks.push(foundLockOf(shard, storage, lockColumnsOf(layout, raw)));
      continue;
    }
    const row: Row = {};
    for (let i = 0; i < columns.length; i++) row[columns[i]!.key] = fromDriverValue(columns[i]!, raw[positions[i]!]);
    result.rows.push(row);
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
