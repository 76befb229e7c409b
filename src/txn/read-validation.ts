import { SerializationError, SnapshotTooOldError } from '../errors.js';
import { validationStatement, type ConflictRow } from '../shard/read-validation-statement.js';
import type { ShardPool } from '../shard/shard-pool.js';
import type { KeyTexts } from '../shard/key-text.js';
import type { TableStorage } from '../shard/table-storage.js';
import { formatTimestamp, type Timestamp } from '../timestamp.js';
import type { IsolationLevel } from './engine-contract.js';
import type { Mutation } from './mutation.js';
import type { ReadSet } from './read-set.js';
import type { ScannedPredicate } from './read-set-types.js';

/** Everything commit-time read validation needs; passed after prewrite, once commit_ts is known, before commitPrimary. */
export interface ReadValidationInput {
  readonly isolation: IsolationLevel;
  readonly startTs: Timestamp;
  readonly commitTs: Timestamp;
  readonly readSet: ReadSet;
  /** This transaction's own writes (their locks are ours, not conflicts). */
  readonly mutations: readonly Mutation[];
  readonly shards: readonly ShardPool[];
  storageOf(tableName: string): TableStorage;
}

/**
 * Commit-time read validation (docs/ISOLATION.md explains why it makes
 * serializable transactions serializable). Called with our locks in place on
 * every written key and `commitTs` known, before the primary commits. On
 * every shard read from, in parallel, one statement looks for:
 *   1. a version of a key we read with commit_ts in (startTs, commitTs];
 *   2. another transaction's lock on a key we read;
 *   3. a version with commit_ts in (startTs, commitTs] whose image matches a
 *      filter we scanned (inserted, updated into or within the scanned set);
 *   4. another transaction's lock whose pending image matches such a filter.
 * Rows that left a scanned set (deleted, updated out of it) were returned by
 * the scan, so they are read keys: checks 1 and 2 see them.
 * Locks count whatever their owner's fate: it may already hold a commit_ts
 * below ours. Only locks of transactions started after our commitTs are
 * harmless (their commit_ts will be above ours) and are skipped, and so are
 * lock-only rows (op 'lock': a pessimistic lock not yet prewritten, or a
 * lock-only key): their owner writes nothing there, or has not prewritten
 * it yet and so draws its commit_ts after this check, above ours.
 * Keys and scans are checked from the timestamp they were read at
 * (start_ts, or a locking read's for_update_ts).
 * Any hit throws SerializationError (retryable); the committer rolls back.
 * A shard whose GC safe point passed startTs throws SnapshotTooOldError
 * (retryable): the versions the checks look for may be gone.
 */
export async function validateReadSet(input: ReadValidationInput): Promise<void> {
  if (input.isolation === 'snapshot') return;
  const checks = groupByShard(input);
  const conflicts = await Promise.all(
    [...checks].map(async ([shard, work]) => {
      const pool = input.shards[shard]!;
      const { rows } = await pool.query<ConflictRow>(validationStatement(input, work));
      return rows[0] ? { shard, row: rows[0] } : undefined;
    }),
  );
  const found = conflicts.find((c) => c !== undefined);
  if (!found) return;
  const { shard, row } = found;
  if (row.kind === 'gc') throw new SnapshotTooOldError(input.startTs, BigInt(row.ts), input.shards[shard]!.name);
  throw serializationError(input, shard, row);
}

interface ShardChecks {
  /** Keys read, per table name, with the timestamp each was read at. */
  readonly keys: Map<string, { keyTexts: KeyTexts; readTs: Timestamp }[]>;
  readonly predicates: ScannedPredicate[];
}

function groupByShard(input: ReadValidationInput): Map<number, ShardChecks> {
  const byShard = new Map<number, ShardChecks>();
  const at = (shard: number): ShardChecks => {
    let checks = byShard.get(shard);
    if (!checks) byShard.set(shard, (checks = { keys: new Map(), predicates: [] }));
    return checks;
  };
  for (const key of input.readSet.keys) {
    const keys = at(key.shard).keys;
    const list = keys.get(key.table) ?? [];
    list.push({ keyTexts: key.keyTexts, readTs: key.readTs ?? input.startTs });
    keys.set(key.table, list);
  }
  const seen = new Set<string>();
  for (const predicate of input.readSet.predicates) {
    for (const shard of predicate.shards) {
      // The same scan repeated at the same timestamp adds nothing to check (a locking scan reads at its own for_update_ts).
      const id = JSON.stringify([shard, predicate.table, predicate.where?.sql ?? null, predicate.where?.params ?? null, predicate.readTs.toString()]);
      if (seen.has(id)) continue;
      seen.add(id);
      at(shard).predicates.push(predicate);
    }
  }
  return byShard;
}

function serializationError(input: ReadValidationInput, shard: number, row: Exclude<ConflictRow, { kind: 'gc' }>): SerializationError {
  const what = {
    version: `a version committed at ${formatTimestamp(BigInt(row.ts))}`,
    lock: `a pending lock of the transaction started at ${formatTimestamp(BigInt(row.ts))}`,
    'predicate-version': `a row matching a scanned filter, committed at ${formatTimestamp(BigInt(row.ts))}`,
    'predicate-lock': `a pending row matching a scanned filter, locked by the transaction started at ${formatTimestamp(BigInt(row.ts))}`,
  }[row.kind];
  return new SerializationError(
    `serialization failure: read of ${row.tbl} key ${JSON.stringify(row.key)} on shard ${shard} conflicts with ${what}, inside (start ${formatTimestamp(input.startTs)}, commit ${formatTimestamp(input.commitTs)}]`,
  );
}
