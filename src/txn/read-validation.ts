import type { ShardPool } from '../shard/shard-pool.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { Timestamp } from '../timestamp.js';
import type { IsolationLevel } from './engine-contract.js';
import type { Mutation } from './mutation.js';
import type { ReadSet } from './read-set.js';

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
 * Commit-time read validation (DESIGN.md, "serializable"). Throwing here
 * (SerializationError) makes the committer roll the transaction back; it is
 * called with our locks already in place on every written key.
 */
export async function validateReadSet(input: ReadValidationInput): Promise<void> {
  if (input.isolation === 'snapshot') return;
  // ---------------------------------------------------------------------
  // SERIALIZABLE: NOT IMPLEMENTED YET (serializable issue owns this).
  // For every read key and scanned predicate, on its shard: fail if a
  // version committed in (startTs, commitTs] or another transaction's lock
  // touches it (for predicates: matches it). Until then serializable runs
  // as snapshot isolation.
  // ---------------------------------------------------------------------
}
