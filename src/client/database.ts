import { readShardStatus, type ShardStatus, type ShardStatusOptions } from './shard-status.js';
import type { Placement } from '../txn/placement.js';
import { addShard, asOnlyPlacementChange, rebalance, removeShard, type AddShardResult, type MembershipDeps, type RebalanceOptions, type RebalanceResult, type RemoveShardResult } from './shard-membership.js';
import type { SlotMoveContext } from '../txn/slot-move.js';
import type { Registry } from 'prom-client';
import { DatabaseClosedError, InvalidInputError, TransactionRollbackError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TimestampSource } from '../oracle/timestamp-source.js';
import { formatTimestamp, type Timestamp } from '../timestamp.js';
import type { IsolationLevel, TransactionEngine } from '../txn/engine-contract.js';
import type { GcRun } from '../txn/gc-types.js';
import type { ClientMetrics } from './client-metrics.js';
import type { QueryContext, Session } from './query-context.js';
import { QueryFacade } from './query-facade.js';
import { IdBlocks } from './id-blocks.js';
import { addedColumnFill } from './added-column-fill.js';
import { RowCache } from './row-cache.js';
import { SnapshotReader } from './snapshot-reader.js';
import type { TableRegistry } from './table-registry.js';
import { Transaction } from './transaction.js';
import { TransactionRunner, type RunOptions } from './transaction-runner.js';

/** Options of `db.migrate()`. */
export interface MigrateOptions {
  /** Drop the tables stored on the shards that the schema does not declare: all of them (true), or those named. */
  dropTables?: boolean | readonly string[];
}

/** Options of one `db.transaction()` call, overriding the database's defaults. */
export interface TransactionOptions {
  isolation?: IsolationLevel;
  /** Retries after retryable errors (write conflicts, lock waits, ...); 0 disables retrying. */
  maxRetries?: number;
}

/** Options of `db.asOf()`. */
export interface AsOfOptions {
  /** Read each shard on one of its standbys, once caught up with its primary (shards given as multi-host URLs). */
  standby?: boolean;
}

/** @internal Everything a Database is made of; built by percolator(). */
export interface DatabaseParts {
  readonly engine: TransactionEngine;
  readonly tables: TableRegistry;
  readonly timestampSource: TimestampSource;
  /** Closed with the database when percolator() created it. */
  readonly ownsTimestampSource: boolean;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly metrics: ClientMetrics;
  readonly defaults: Omit<RunOptions, 'readTs'>;
}

/**
 * A connection to the shards and the oracle, made by `percolator()`. Queries
 * on it outside a transaction run on their own: reads at a fresh snapshot,
 * writes in their own (retried) transaction.
 */
export class Database<TSchema> extends QueryFacade<TSchema> {
  private readonly runner: TransactionRunner;
  private readonly ids: IdBlocks | undefined;
  private closed = false;

  /** @internal */
  constructor(private readonly parts: DatabaseParts) {
    const ids = parts.tables.idBlocks && new IdBlocks(parts.engine, parts.tables.idBlocks, parts.logger);
    const context: QueryContext = {
      tables: parts.tables,
      ids,
      shardOf: (meta, row) => parts.engine.shardOf(meta, row),
      run: (mode, work) => this.runAlone(mode, work),
    };
    super(context);
    this.ids = ids;
    this.runner = new TransactionRunner(parts.engine, parts.metrics, parts.logger);
  }

  /** The prom-client registry holding this database's metrics (the one passed to percolator(), or its own). */
  get registry(): Registry {
    return this.parts.registry;
  }

  /** Number of shards. */
  get shardCount(): number {
    return this.parts.engine.shardCount;
  }

  /**
   * The cluster as the oracle's placement map and the shards see it: per
   * shard the slots the map assigns, the slots it records as owned (and
   * frozen: a move under way or interrupted), slots moving in, live rows
   * (estimated, or counted with `countRows`), stored versions and bytes.
   * @example
   * const { mapVersion, shards } = await db.shardStatus();
   */
  async shardStatus(options: ShardStatusOptions = {}): Promise<ShardStatus> {
    this.checkOpen();
    return readShardStatus(this.parts.engine.placement, options);
  }

  /**
   * Adds a Postgres server to the cluster as a new shard: migrates it (the
   * storage of every table the cluster stores: this client must declare
   * them all), records its id, and adds it to the oracle's placement map
   * with no slot; every client sees it. With `rebalance`, slots (and their
   * rows) are then moved to balance the cluster. An unreachable server is
   * ShardUnavailableError, and nothing changes. Idempotent.
   * @example
   * await db.addShard('postgres://app:pw@db4:5432/app', { rebalance: true });
   */
  async addShard(url: string, options: { rebalance?: boolean | RebalanceOptions } = {}): Promise<AddShardResult> {
    this.checkOpen();
    if (typeof url !== 'string' || url === '') throw new InvalidInputError('addShard(url): url must be a Postgres connection URL');
    const deps = this.membership();
    return asOnlyPlacementChange(deps, () => addShard(deps, url, options));
  }

  /**
   * Moves every slot of a shard (given by its URL as the map records it, or
   * its id) to the others, then drops it from the map. Keep the server
   * running until the GC safe point passes `keepRunningUntil`.
   */
  async removeShard(url: string, options: RebalanceOptions = {}): Promise<RemoveShardResult> {
    this.checkOpen();
    const deps = this.membership();
    return asOnlyPlacementChange(deps, () => removeShard(deps, url, options));
  }

  /** Moves slots (and their rows) so that every shard holds as many slots and, by default, rows within 10%, moving as few as possible. */
  async rebalance(options: RebalanceOptions = {}): Promise<RebalanceResult> {
    this.checkOpen();
    const deps = this.membership();
    return asOnlyPlacementChange(deps, () => rebalance(deps, options));
  }

  private membership(): MembershipDeps {
    return {
      moves: this.parts.engine.slotMoves,
      tables: this.parts.tables.storedTables,
      timestamp: () => this.parts.timestampSource.getTimestamp(),
      logger: this.parts.logger,
      connectTimeoutMs: 5_000,
    };
  }

  /** @internal The placement map this client places rows by (slot moves use it). */
  get placement(): Placement {
    return this.parts.engine.placement;
  }

  /** @internal What moveSlots, abortMove and finishMoves (src/txn/slot-move.ts) take. */
  get slotMoves(): SlotMoveContext {
    return this.parts.engine.slotMoves;
  }

  /**
   * Creates (or upgrades) the versioned storage of every schema table on
   * every shard, online, while other clients run: new tables are created,
   * columns added (existing rows read the column's default, or NULL) and
   * dropped, indexes built and dropped, enum types created and grown, and
   * each changed table gets a new schema version, whose older writers are
   * refused (SchemaVersionError). Renames, type and key changes are refused
   * (SchemaError). Tables the schema does not declare are left alone unless
   * `dropTables` names them (or is true: all of them). Idempotent; run it
   * before rolling out code with a new schema.
   * @example
   * const db = await percolator({ oracle: ['127.0.0.1:7070'], shards, schema: { accounts, orders } });
   * await db.migrate();
   */
  async migrate(options: MigrateOptions = {}): Promise<void> {
    this.checkOpen();
    await this.parts.engine.migrate(this.parts.tables.storageTables, { fill: addedColumnFill, dropTables: options.dropTables });
  }

  /**
   * Runs version GC on every shard now (it also runs every `gc.intervalMs`):
   * deletes versions no transaction younger than `gc.lifetimeMs` can read.
   * `force` runs even if another client collected within the interval.
   * @example
   * const { shards } = await db.collectGarbage({ force: true });
   */
  async collectGarbage(options: { force?: boolean } = {}): Promise<GcRun> {
    this.checkOpen();
    return this.parts.engine.collectGarbage(options);
  }

  /**
   * Runs `fn` in one snapshot-isolated (or serializable) transaction across
   * all shards and commits it. Retryable failures (write conflicts, lock
   * waits, serialization failures, shard outages before the commit point)
   * run `fn` again with backoff, up to `maxRetries` times, so `fn` must be
   * safe to run more than once. `tx.rollback()` or any error thrown by `fn`
   * rolls back and rejects with that error.
   * @example
   * await db.transaction(async (tx) => {
   *   const [a] = await tx.select().from(accounts).where(eq(accounts.id, 1));
   *   await tx.update(accounts).set({ balance: a.balance - 10 }).where(eq(accounts.id, 1));
   *   await tx.insert(orders).values({ id: 7, accountId: 1, amount: 10 });
   * });
   */
  async transaction<T>(fn: (tx: Transaction<TSchema>) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    this.checkOpen();
    const runOptions = this.runOptions(options);
    return this.runner.run(async (engineTx) => {
      const tx = new Transaction<TSchema>({ tables: this.parts.tables, ids: this.ids, shardOf: (meta, row) => this.parts.engine.shardOf(meta, row) }, engineTx);
      try {
        const result = await fn(tx);
        if (tx.session.rollbackRequested) throw new TransactionRollbackError();
        return result;
      } finally {
        tx.session.end();
      }
    }, runOptions);
  }

  /**
   * Read-only queries at an older timestamp (every shard as of `ts`).
   * With `{ standby: true }` each shard is read on one of its standbys (a
   * shard given as a multi-host URL) once that standby's replay has passed
   * everything the primary had committed when the read began, so the
   * snapshot is the same as on the primaries; locks met there are resolved
   * through the primaries. A shard with one host is refused
   * (InvalidInputError); no standby caught up within lockWaitTimeoutMs is
   * ShardUnavailableError (retryable).
   * @example
   * const before = await db.asOf(ts).select().from(accounts);
   * const report = await db.asOf(ts, { standby: true }).select().from(orders);
   */
  asOf(ts: Timestamp, options: AsOfOptions = {}): SnapshotReader<TSchema> {
    if (typeof ts !== 'bigint' || ts <= 0n) throw new InvalidInputError(`asOf expects a positive bigint timestamp, got ${String(ts)}`);
    return new SnapshotReader<TSchema>({
      tables: this.parts.tables,
      shardOf: (meta, row) => this.parts.engine.shardOf(meta, row),
      run: async (_mode, work) => {
        // A timestamp the oracle has not issued yet is no snapshot: a later commit could still land below it.
        const now = await this.currentTimestamp();
        if (ts > now) throw new InvalidInputError(`asOf(${formatTimestamp(ts)}) is in the future (the oracle is at ${formatTimestamp(now)})`);
        return this.runAlone('read', work, ts, options.standby === true);
      },
    });
  }

  /** A fresh timestamp from the oracle: every transaction committed before this call is visible at it (use with asOf). */
  async currentTimestamp(): Promise<Timestamp> {
    this.checkOpen();
    return this.parts.timestampSource.getTimestamp();
  }

  /** Closes the shard pools (and the oracle client percolator() created). Pending transactions fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ids?.close();
    await this.parts.engine.close();
    if (this.parts.ownsTimestampSource) await this.parts.timestampSource.close();
  }

  private runAlone<T>(mode: 'read' | 'write', work: (session: Session) => Promise<T>, readTs?: Timestamp, standby?: boolean): Promise<T> {
    this.checkOpen();
    const options = { ...this.parts.defaults, ...(mode === 'read' ? { isolation: 'snapshot' as const } : {}), readTs, standby };
    // One statement per session: nothing would ever be looked up again.
    return this.runner.run((engineTx) => work({ engineTx, rowCache: new RowCache(0) }), options);
  }

  private runOptions(options: TransactionOptions): RunOptions {
    const isolation = options.isolation ?? this.parts.defaults.isolation;
    const maxRetries = options.maxRetries ?? this.parts.defaults.maxRetries;
    checkIsolation(isolation);
    checkMaxRetries(maxRetries);
    return { ...this.parts.defaults, isolation, maxRetries };
  }

  private checkOpen(): void {
    if (this.closed) throw new DatabaseClosedError('the database was closed');
  }
}

/** @internal */
export function checkIsolation(isolation: unknown): asserts isolation is IsolationLevel {
  if (isolation !== 'snapshot' && isolation !== 'serializable') {
    throw new InvalidInputError(`isolation must be 'snapshot' or 'serializable', got ${String(isolation)}`);
  }
}

const POOL_COUNTS = ['pipelines', 'pipelineDepth', 'max'];
const POOL_DEADLINES = ['statementTimeoutMs', 'connectTimeoutMs'];
const POOL_DURATIONS = ['idleTimeoutMillis'];

/**
 * @internal `pool`: known keys only; connection counts positive integers, deadlines
 * positive (none would let a stopped shard hang a statement, and close(),
 * forever), idleTimeoutMillis non-negative (0: never close idle ones).
 */
export function checkPoolOptions(pool: unknown): void {
  if (pool === undefined) return;
  if (typeof pool !== 'object' || pool === null) throw new InvalidInputError(`pool must be an object, got ${String(pool)}`);
  for (const [key, value] of Object.entries(pool)) {
    if (POOL_COUNTS.includes(key)) {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new InvalidInputError(`pool.${key} must be a positive integer, got ${String(value)}`);
    } else if (POOL_DEADLINES.includes(key)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new InvalidInputError(`pool.${key} must be a positive number of milliseconds, got ${String(value)}`);
    } else if (POOL_DURATIONS.includes(key)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new InvalidInputError(`pool.${key} must be a non-negative number of milliseconds, got ${String(value)}`);
    } else {
      throw new InvalidInputError(`unknown pool option ${key} (options: ${[...POOL_COUNTS, ...POOL_DEADLINES, ...POOL_DURATIONS].join(', ')})`);
    }
  }
}

/** Node's timers hold at most this many milliseconds (a longer delay fires at once). */
const MAX_TIMER_MS = 2_147_483_647;

/** @internal A duration option: a finite number of milliseconds a timer can hold, positive (or also 0 when `zero`); undefined is the default. */
export function checkMilliseconds(name: string, value: unknown, { zero }: { zero: boolean }): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (value === 0 && !zero) || value > MAX_TIMER_MS) {
    throw new InvalidInputError(`${name} must be a ${zero ? 'non-negative' : 'positive'} number of milliseconds (at most ${MAX_TIMER_MS}), got ${String(value)}`);
  }
}

/** @internal */
export function checkMaxRetries(maxRetries: unknown): asserts maxRetries is number {
  if (typeof maxRetries !== 'number' || !Number.isSafeInteger(maxRetries) || maxRetries < 0) {
    throw new InvalidInputError(`maxRetries must be a non-negative integer, got ${String(maxRetries)}`);
  }
}

