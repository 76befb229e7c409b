import type { Registry } from 'prom-client';
import { InvalidInputError, SchemaError } from '../errors.js';
import { timestampFor } from '../oracle/timestamp-for.js';
import { silentLogger, type Logger } from '../logger.js';
import type { TimestampSource } from '../oracle/timestamp-source.js';
import { migrateShards, type MigrateOptions, type MigrateResult } from '../shard/migrate.js';
import type { TableMeta } from '../schema/table-meta.js';
import { PlacementMap } from '../shard/placement-map.js';
import { slotOf } from '../shard/shard-of.js';
import { Placement, type PlacementSource } from './placement.js';
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
import { StoredColumns } from './stored-columns.js';
import { buildIndexes } from './index-backfill.js';
import { setValidFrom } from '../shard/index-build-statements.js';
import { IndexReadiness } from './index-readiness.js';
import { StandbyPools } from './standby-pools.js';
import type { GcOptions } from './gc-types.js';
import { VersionGc } from './version-gc.js';

export interface TransactionEngineOptions {
  /** Postgres URLs of the shards; their order is the shard numbering (keep it fixed). Without `placement`, rows are placed by the initial layout of this list. */
  shards: readonly string[];
  /**
   * The cluster's placement map (the oracle's), and where to read it again:
   * then the shards are the map's, `shards` is not used for placement.
   */
  placement?: { map: PlacementMap; source?: PlacementSource | undefined } | undefined;
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

/** Default maxTransactionMs: half the default GC lifetime (version-gc.ts), so a transaction's locks never hold the safe point back for long. */
export const DEFAULT_MAX_TRANSACTION_MS = 300_000;

/**
 * The transaction engine: storage, Percolator protocol and lock resolution
 * over independent Postgres shards (see docs/DESIGN.md).
 */
export function createTransactionEngine(options: TransactionEngineOptions): TransactionEngine {
  if (options.shards.length === 0 && !options.placement) throw new InvalidInputError('at least one shard URL is needed');
  const logger = (options.logger ?? silentLogger).child({ component: 'percolator-engine' });
  const map = options.placement?.map ?? PlacementMap.initial('', options.shards);
  const openShard = (id: number, url: string) => new ShardPool(id, url, logger, options.pool);
  const shards: ShardPool[] = [];
  for (const shard of map.shards) shards[shard.id] = openShard(shard.id, shard.url);
  const placement = new Placement(map, shards, openShard, logger, options.placement?.source);
  const standbys = new StandbyPools(openShard, logger);
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
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_LIMITS.bytes;
  const limits = { rows: chunkRows, bytes: chunkBytes };
  const directory = new TableDirectory(shards, tables);
  const storedColumns = new StoredColumns(shards);
  const resolver = new LockResolver({ shards, placement, tables: directory, storedColumns, logger, metrics, localCommits, localOwnerWaitMs: options.localOwnerWaitMs });
  const ctx: EngineContext = {
    shards,
    placement,
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
    storedColumns,
    commits: new SharedStatements(commitStatement(storedColumns), limits, sharedStatementMetrics(metrics, 'commit')),
    pointReads: new SharedStatements(pointReadStatement, limits, sharedStatementMetrics(metrics, 'point_read')),
    indexReadiness: new IndexReadiness(shards),
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
    get shardCount() {
      return shards.length;
    },
    placement,
    async begin(beginOptions: BeginOptions = {}): Promise<EngineTransaction> {
      const readOnly = beginOptions.readTs !== undefined;
      if (beginOptions.standby && !readOnly) throw new InvalidInputError('reads from standbys are for read-only snapshots at a timestamp (asOf)');
      const startTs = beginOptions.readTs ?? (await timestamp());
      // A map read before a switch the oracle announced with this timestamp: read it again before placing anything.
      if (placement.stale) await placement.refresh();
      const standby = beginOptions.standby ? (shard: number) => standbys.caughtUp(shards[shard]!, ctx.lockWaitTimeoutMs) : undefined;
      return new PercolatorTransaction(ctx, storageFor, startTs, beginOptions.isolation ?? 'snapshot', readOnly, standby);
    },
    shardOf(table: TableMeta, row: Row): number {
      return placement.map.shardOfSlot(slotOf(table, row));
    },
    async migrate(metas: readonly TableMeta[], migrateOptions: MigrateOptions = {}): Promise<MigrateResult> {
      const stored = withIndexStorage(metas);
      for (const meta of stored) storageFor(meta);
      const result = await migrateShards(shards, stored, { ...migrateOptions, mapped: placement.mapped });
      // The first migrate() of a cluster: the oracle keeps its map from now on.
      await placement.register(result.clusterId);
      for (const older of result.older) {
        logger.warn(older, 'migrate: the schema declares an older version of this table than the shards store; left as stored, and this client cannot write it');
      }
      if (result.dropped.length > 0) logger.info({ tables: result.dropped }, 'migrate: dropped tables');
      // Indexes created on tables with rows are filled in now, online (index-backfill.ts).
      const left = new Set(result.older.map((o) => o.table));
      const indexes = metas.filter((meta) => !left.has(meta.name)).flatMap((meta) => meta.indexes);
      const begin = async () => new PercolatorTransaction(ctx, storageFor, await timestamp(), 'snapshot', false);
      await buildIndexes({ shards, timestampSource: options.timestampSource, resolver, logger, storageFor, begin }, indexes);
      // Every entry of a complete index is committed below this timestamp: reads at or above it may use the index.
      if (indexes.length > 0) {
        const validFrom = await timestamp();
        await Promise.all(shards.map((shard) => shard.query(setValidFrom(indexes.map((index) => index.storage.name), validFrom))));
      }
      ctx.indexReadiness.invalidate();
      return result;
    },
    register(metas: readonly TableMeta[]): void {
      for (const meta of withIndexStorage(metas)) storageFor(meta);
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
      await Promise.all([...shards.map((s) => s.close()), standbys.close()]);
    },
  };
}

/** Each table followed by its indexes' storage: tables for the engine like any other (migrated, catalogued, resolved, collected). */
function withIndexStorage(metas: readonly TableMeta[]): TableMeta[] {
  return metas.flatMap((meta) => [meta, ...meta.indexes.map((index) => index.storage)]);
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
