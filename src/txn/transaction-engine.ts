import type { Registry } from 'prom-client';
import { InvalidInputError, SchemaError } from '../errors.js';
import { timestampFor } from '../oracle/timestamp-for.js';
import { silentLogger, type Logger } from '../logger.js';
import type { TimestampSource } from '../oracle/timestamp-source.js';
import { migrateShards } from '../shard/migrate.js';
import type { TableMeta } from '../schema/table-meta.js';
import { shardOf } from '../shard/shard-of.js';
import { ShardPool, type ShardPoolOptions } from '../shard/shard-pool.js';
import { LockWakeups } from './lock-wakeups.js';
import { LocalCommits } from './local-commits.js';
import { commitStatement } from './shared-commit.js';
import { pointReadStatement } from './shared-point-read.js';
import { prewriteStatement } from './shared-prewrite.js';
import { SharedStatements } from './shared-statements.js';
import { TableStorage } from '../shard/table-storage.js';
import { DEFAULT_CHUNK_LIMITS } from './table-chunks.js';
import type { Timestamp } from '../timestamp.js';
import type { CommitHooks } from './commit-hooks.js';
import type { EngineContext } from './engine-context.js';
import type { BeginOptions, EngineTransaction, Row, TransactionEngine } from './engine-contract.js';
import { createEngineMetrics, type EngineMetrics } from './engine-metrics.js';
import { LockResolver } from './lock-resolver.js';
import { PercolatorTransaction } from './engine-transaction.js';
import { TableDirectory } from './table-directory.js';
import type { GcOptions } from './gc-types.js';
import { VersionGc } from './version-gc.js';

export interface TransactionEngineOptions {
  /** Postgres URLs of the shards; their order is the shard numbering (keep it fixed). */
  shards: readonly string[];
  timestampSource: TimestampSource;
  logger?: Logger;
  /** prom-client registry for the engine's metrics (default: prom-client's global registry). */
  registry?: Registry;
  pool?: ShardPoolOptions | undefined;
  /** TTL of a transaction's locks; a lock older than this (without heartbeat) may be rolled back by others. Default 3000. */
  lockTtlMs?: number | undefined;
  /** How long a read waits for a live transaction's lock before LockWaitTimeoutError. Default 10000. */
  lockWaitTimeoutMs?: number | undefined;
  /**
   * Longest life of a transaction, begin to commit: past it its locks are
   * released and it fails with TransactionTimeoutError, so that a hung
   * caller cannot hold rows, or the GC safe point, for ever. Default
   * 300000 (5 minutes, half the default GC lifetime).
   */
  maxTransactionMs?: number | undefined;
  /** Rows per statement in prewrite/commit/rollback chunks. Default 5000. */
  chunkRows?: number;
  /** About the most bytes of row text one prewrite/commit/rollback/point-read statement carries. Default 4 MiB. */
  chunkBytes?: number;
  /** Named failure points of the commit path (tests). */
  hooks?: CommitHooks;
  /** Refresh the primary lock's TTL during long commits. Default true; false only to test a lost heartbeat. */
  heartbeat?: boolean;
  /** How long a read waits for a commit of this engine whose lock it met, before pushing it (default 250 ms). */
  localOwnerWaitMs?: number;
  /** Version GC (version-gc.ts); false: never collect (storage grows with every write). */
  gc?: GcOptions | false | undefined;
}

/**
 * Default chunkBytes: a statement of 5,000 rows of up to 1 MiB each would be
 * gigabytes (past what Postgres and V8 take in one message or string); a few
 * MiB per statement already amortise its round trip.
 */
export const DEFAULT_CHUNK_BYTES = DEFAULT_CHUNK_LIMITS.bytes;

/** Default maxTransactionMs: half the default GC lifetime (version-gc.ts), so a transaction's locks never hold the safe point back for long. */
export const DEFAULT_MAX_TRANSACTION_MS = 300_000;

/**
 * The transaction engine: storage, Percolator protocol and lock resolution
 * over independent Postgres shards (see docs/DESIGN.md).
 */
export function createTransactionEngine(options: TransactionEngineOptions): TransactionEngine {
  if (options.shards.length === 0) throw new InvalidInputError('at least one shard URL is needed');
  const logger = (options.logger ?? silentLogger).child({ component: 'percolator-engine' });
  const shards = options.shards.map((url, i) => new ShardPool(i, url, logger, options.pool));
  const metrics = createEngineMetrics(options.registry);
  const tables = new Map<string, TableStorage>();
  const background = new Set<Promise<unknown>>();

  const storageOf = (name: string): TableStorage => {
    const storage = tables.get(name);
    if (!storage) throw new SchemaError(`table ${name} is not known to this client: pass it to migrate() or register() (its storage holds the primary of a transaction)`);
    return storage;
  };
  const storageFor = (meta: TableMeta): TableStorage => {
    const existing = tables.get(meta.name);
    if (existing && existing.meta.table === meta.table) return existing;
    if (existing) throw new SchemaError(`two different tables named ${meta.name}`);
    const storage = new TableStorage(meta);
    tables.set(meta.name, storage);
    return storage;
  };

  const localCommits = new LocalCommits();
  const chunkRows = options.chunkRows ?? DEFAULT_CHUNK_LIMITS.rows;
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const limits = { rows: chunkRows, bytes: chunkBytes };
  const directory = new TableDirectory(shards, tables);
  const resolver = new LockResolver({ shards, tables: directory, logger, metrics, localCommits, localOwnerWaitMs: options.localOwnerWaitMs });
  const ctx: EngineContext = {
    shards,
    timestampSource: options.timestampSource,
    logger,
    metrics,
    hooks: options.hooks ?? {},
    lockTtlMs: options.lockTtlMs ?? 3000,
    lockWaitTimeoutMs: options.lockWaitTimeoutMs ?? 10_000,
    maxTransactionMs: options.maxTransactionMs ?? DEFAULT_MAX_TRANSACTION_MS,
    chunkRows,
    chunkBytes,
    heartbeat: options.heartbeat ?? true,
    resolver,
    lockWakeups: new LockWakeups(),
    localCommits,
    prewrites: new SharedStatements(prewriteStatement, limits, sharedStatementMetrics(metrics, 'prewrite')),
    commits: new SharedStatements(commitStatement, limits, sharedStatementMetrics(metrics, 'commit')),
    pointReads: new SharedStatements(pointReadStatement, limits, sharedStatementMetrics(metrics, 'point_read')),
    storageOf,
    track(work) {
      const settled = work.catch((error: unknown) => logger.warn({ err: error }, 'background work failed'));
      background.add(settled);
      void settled.finally(() => background.delete(settled));
    },
  };

  const gc = new VersionGc(shards, directory, options.timestampSource, resolver, logger, metrics.gcDeletedVersions, options.gc || {});
  if (options.gc !== false) gc.start();

  const timestamp = (): Promise<Timestamp> => timestampFor(options.timestampSource, 'start');

  return {
    shardCount: shards.length,
    async begin(beginOptions: BeginOptions = {}): Promise<EngineTransaction> {
      const readOnly = beginOptions.readTs !== undefined;
      const startTs = beginOptions.readTs ?? (await timestamp());
      return new PercolatorTransaction(ctx, storageFor, startTs, beginOptions.isolation ?? 'snapshot', readOnly);
    },
    shardOf(table: TableMeta, row: Row): number {
      return shardOf(table, row, shards.length);
    },
    async migrate(metas: readonly TableMeta[]): Promise<void> {
      for (const meta of metas) storageFor(meta);
      await migrateShards(shards, metas);
    },
    register(metas: readonly TableMeta[]): void {
      for (const meta of metas) storageFor(meta);
    },
    recordRetry(cause: string): void {
      metrics.retries.inc({ cause });
    },
    collectGarbage(gcOptions = {}) {
      return gc.collect(gcOptions.force ?? false);
    },
    async close(): Promise<void> {
      await gc.stop();
      while (background.size > 0) await Promise.all([...background]);
      await Promise.all(shards.map((s) => s.close()));
    },
  };
}

/** Counts a kind's shared statements and the requests they carried. */
function sharedStatementMetrics(metrics: EngineMetrics, kind: string): (requests: number) => void {
  const statements = metrics.sharedStatements.labels(kind);
  const requests = metrics.sharedStatementRequests.labels(kind);
  return (count) => {
    statements.inc();
    requests.inc(count);
  };
}
