import type { Logger } from '../logger.js';
import type { TimestampSource } from '../oracle/timestamp-source.js';
import type { ShardPool } from '../shard/shard-pool.js';
import type { PrewriteConflictRow } from '../shard/prewrite-statements.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { SharedCommitRequest } from './shared-commit.js';
import type { SharedPointReadRequest } from './shared-point-read.js';
import type { SharedPrewriteRequest } from './shared-prewrite.js';
import type { ShardReadResult } from './snapshot-read.js';
import type { SharedStatements } from './shared-statements.js';
import type { CommitHooks } from './commit-hooks.js';
import type { EngineMetrics } from './engine-metrics.js';
import type { LockResolver } from './lock-resolver.js';
import type { LocalCommits } from './local-commits.js';
import type { LockWakeups } from './lock-wakeups.js';
import type { IndexReadiness } from './index-readiness.js';
import type { Placement } from './placement.js';
import type { StoredColumns } from './stored-columns.js';

/** What every part of the engine shares: shards, tables, oracle, settings, observability. */
export interface EngineContext {
  /** Indexed by shard id (placement.shards). */
  readonly shards: readonly ShardPool[];
  /** The slot -> shard map writes and point reads are placed by. */
  readonly placement: Placement;
  readonly timestampSource: TimestampSource;
  readonly logger: Logger;
  readonly metrics: EngineMetrics;
  readonly hooks: CommitHooks;
  readonly lockTtlMs: number;
  readonly lockWaitTimeoutMs: number;
  /** Longest life of a transaction before it is rolled back and fails with TransactionTimeoutError (transaction-deadline.ts). */
  readonly maxTransactionMs: number;
  /** Rows per statement when writing chunks (memory and statement size stay bounded). */
  readonly chunkRows: number;
  /** About how many bytes of parameters one such statement carries at most (rows of up to 1 MiB each). */
  readonly chunkBytes: number;
  /** Whether long commits refresh their primary lock's TTL. */
  readonly heartbeat: boolean;
  readonly resolver: LockResolver;
  /** Locking reads of this engine waiting for its transactions to end. */
  readonly lockWakeups: LockWakeups;
  /** This engine's commits in flight, which its readers wait for instead of pushing them. */
  readonly localCommits: LocalCommits;
  /** Prewrites and commits of concurrent transactions, sent together per shard (every table); point reads per (shard, table). */
  readonly prewrites: SharedStatements<SharedPrewriteRequest, PrewriteConflictRow[]>;
  readonly commits: SharedStatements<SharedCommitRequest, boolean>;
  /** The columns each shard stores: commits copy lock rows with them (stored-columns.ts). */
  readonly storedColumns: StoredColumns;
  readonly pointReads: SharedStatements<SharedPointReadRequest, ShardReadResult>;
  /** Which secondary indexes reads may use (complete on every shard). */
  readonly indexReadiness: IndexReadiness;
  /** Storage of a table by its SQL name (the name lock rows record for their primary). */
  storageOf(tableName: string): TableStorage;
  /** Background work (asynchronous secondaries) that close() waits for. */
  track(work: Promise<unknown>): void;
}
