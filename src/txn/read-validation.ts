import { PlacementChangedError, SerializationError, SnapshotTooOldError } from '../errors.js';
import { validationStatement, type ConflictRow } from '../shard/read-validation-statement.js';
import type { ShardPool } from '../shard/shard-pool.js';
import { MAX_BIND_PARAMETERS } from '../shard/statement-limits.js';
import type { KeyTexts } from '../shard/key-text.js';
import type { TableStorage } from '../shard/table-storage.js';
import { formatTimestamp, type Timestamp } from '../timestamp.js';
import type { IsolationLevel } from './engine-contract.js';
import { keyIdOf, type Mutation } from './mutation.js';
import type { ReadSet } from './read-set.js';
import type { ReadKey, ScannedPredicate } from './read-set-types.js';

/** Everything commit-time read validation needs; passed after prewrite, once commit_ts is known, before commitPrimary. */
export interface ReadValidationInput {
  readonly isolation: IsolationLevel;
  readonly startTs: Timestamp;
  readonly commitTs: Timestamp;
  readonly readSet: ReadSet;
  /** This transaction's own writes, prewritten: their locks are in place (and ours, not conflicts). */
  readonly mutations: readonly Mutation[];
  /** Whether this transaction holds a pessimistic lock (a locking read's) on a key: its prewrite then checked the key from that lock's for_update_ts, not start_ts. */
  readonly pessimisticallyLocked?: ((table: string, keyId: string) => boolean) | undefined;
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
 * (start_ts, or a locking read's for_update_ts). Keys this transaction also
 * wrote are left out where prewrite already checked them (ownLocksCover):
 * a transaction that read only what it writes sends nothing.
 * Any hit throws SerializationError (retryable); the committer rolls back.
 * A shard whose GC safe point passed startTs throws SnapshotTooOldError
 * (retryable): the versions the checks look for may be gone.
 * A shard's checks whose parameters (the scanned filters' values) exceed
 * what one statement carries are split over several statements: each check
 * stands alone, and our locks keep what they look at from changing.
 */
export async function validateReadSet(input: ReadValidationInput): Promise<void> {
  await runReadValidation(input, planReadValidation(input));
}

/** One statement of a validation: a shard and the checks it runs there. */
export type ValidationPlan = readonly (readonly [shard: number, checks: ShardChecks])[];

/** The statements validation sends (none: nothing to check, the transaction read only keys its own locks cover, or nothing). */
export function planReadValidation(input: ReadValidationInput): ValidationPlan {
  if (input.isolation === 'snapshot') return [];
  return [...groupByShard(input)].flatMap(([shard, work]) => splitByParameters(input, work).map((part) => [shard, part] as const));
}

/** Sends a plan's statements, all in parallel; throws on the first conflict found (see validateReadSet). */
export async function runReadValidation(input: ReadValidationInput, plan: ValidationPlan): Promise<void> {
  if (plan.length === 0) return;
  const conflicts = await Promise.all(
    plan.map(async ([shard, work]) => {
      const pool = input.shards[shard]!;
      // Prepared: parsing and planning the statement cost a shard several times what its checks do (test/support/validation-cost.ts).
      const { rows } = await pool.query<ConflictRow>(validationStatement({ ...input, mapVersion: input.readSet.mapVersion }, work), { prepare: true });
      return rows[0] ? { shard, row: rows[0] } : undefined;
    }),
  );
  const found = conflicts.find((c) => c !== undefined);
  if (!found) return;
  const { shard, row } = found;
  if (row.kind === 'gc') throw new SnapshotTooOldError(input.startTs, BigInt(row.ts), input.shards[shard]!.name);
  if (row.kind === 'moved') {
    throw new PlacementChangedError(input.shards[shard]!.name, `slots moved on this shard after map version ${row.ts}, which this transaction read by; it runs again`);
  }
  throw serializationError(input, shard, row);
}

/**
 * Which read keys this transaction's own prewritten locks already cover
 * (docs/ISOLATION.md, "Keys a transaction also writes"). Prewrite checked
 * each written key for a put/del committed at or after start_ts (after
 * for_update_ts on a key we hold a pessimistic lock on) and for any other
 * transaction's lock, in a snapshot that follows our lock; from then on our
 * lock keeps every other writer off the key until we commit or are rolled
 * back (and then we do not commit). So checks 1 and 2 cannot fire on a key
 * we wrote if prewrite checked it from no later than we read it: read at
 * start_ts and not pessimistically locked (prewrite checked from start_ts),
 * or read by a locking read (at its readTs, at or above the lock's
 * for_update_ts). A key read at start_ts and locked later is still checked.
 * A pessimistic lock alone (not prewritten) covers nothing: it is written
 * without waiting for the WAL flush and may be lost in a shard crash, and a
 * transaction that wrote nothing has no commit point that would notice.
 */
function ownLocksCover(input: ReadValidationInput): (key: ReadKey) => boolean {
  if (input.mutations.length === 0) return () => false;
  const written = new Set(input.mutations.map((m) => `${m.storage.meta.name}\u0000${m.keyId}`));
  return (key) => {
    const keyId = keyIdOf(key.keyTexts);
    if (!written.has(`${key.table}\u0000${keyId}`)) return false;
    return (key.readTs ?? input.startTs) > input.startTs || !input.pessimisticallyLocked?.(key.table, keyId);
  };
}

export interface ShardChecks {
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
  const covered = ownLocksCover(input);
  for (const key of input.readSet.keys) {
    if (covered(key)) continue;
    const keys = at(key.shard).keys;
    const list = keys.get(key.table) ?? [];
    list.push({ keyTexts: key.keyTexts, readTs: key.readTs ?? input.startTs });
    keys.set(key.table, list);
  }
  const seen = new Set<string>();
  for (const predicate of input.readSet.predicates) {
    for (const shard of predicate.shards) {
      // The same scan repeated at the same timestamp adds nothing to check (a locking scan reads at its own for_update_ts).
      const id = JSON.stringify([shard, predicate.table, predicate.where?.sql ?? null, predicate.where?.params ?? null, predicate.readTs.toString()], taggedBigint);
      if (seen.has(id)) continue;
      seen.add(id);
      at(shard).predicates.push(predicate);
    }
  }
  return byShard;
}

/**
 * One shard's checks in groups that each fit in one statement's bind
 * parameters: every check's parameters counted (a filter's at most once),
 * plus start and commit ts shared by all.
 */
function splitByParameters(input: ReadValidationInput, checks: ShardChecks): ShardChecks[] {
  const parts: ShardChecks[] = [];
  let current: ShardChecks | undefined;
  let used = 0;
  const room = (cost: number): ShardChecks => {
    if (!current || used + cost > MAX_BIND_PARAMETERS) {
      current = { keys: new Map(), predicates: [] };
      parts.push(current);
      used = 2;
    }
    used += cost;
    return current;
  };
  // Per table of keys read: one array per key column, one of read timestamps, the table name.
  for (const [table, keys] of checks.keys) room(input.storageOf(table).pk.length + 2).keys.set(table, keys);
  // Per scan: its filter's values, its read timestamp, the table name.
  for (const predicate of checks.predicates) room((predicate.where?.params.length ?? 0) + 2).predicates.push(predicate);
  return parts;
}

/**
 * JSON replacer for the identity of a scanned predicate: filter parameters
 * may be bigints (a `bigint({ mode: 'bigint' })` column), which plain
 * JSON.stringify refuses; tagged so that `5n` and `'5'` stay distinct.
 */
function taggedBigint(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? { bigint: value.toString() } : value;
}

function serializationError(input: ReadValidationInput, shard: number, row: Exclude<ConflictRow, { kind: 'gc' | 'moved' }>): SerializationError {
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
