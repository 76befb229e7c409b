import { Registry } from 'prom-client';
import { InvalidInputError, OracleUnavailableError, PercolatorError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { TimestampSource } from '../oracle/timestamp-source.js';
import { createOracleClient, type OracleClient } from '../oracle/oracle-client.js';
import { clearTextTokenAddresses, resolveOracleOption, type OracleOption } from './oracle-option.js';
import type { IsolationLevel } from '../txn/engine-contract.js';
import type { GcOptions } from '../txn/gc-types.js';
import { createTransactionEngine, type TransactionEngineOptions } from '../txn/transaction-engine.js';
import { clientMetrics } from './client-metrics.js';
import { checkIsolation, checkMaxRetries, checkMilliseconds, checkPoolOptions, Database } from './database.js';
import { redactUrl } from '../redact.js';
import { probeShardList, resolveClusterPlacement } from './cluster-placement.js';
import { resolveBackoff, type RetryBackoff } from './retry-backoff.js';
import { TableRegistry } from './table-registry.js';
import type { ShardKeys } from './types.js';

/** Connections of each shard: `{ pipelines, max, idleTimeoutMillis, statementTimeoutMs, connectTimeoutMs }` (docs/CLIENT.md). */
export type PoolOptions = NonNullable<TransactionEngineOptions['pool']>;

/** Options of percolator(). */
export interface PercolatorOptions<TSchema extends Record<string, unknown>> {
  /**
   * The timestamp oracle: its addresses (`['host:port', ...]`, any members of the oracle group),
   * `{ addresses, token, tls: { ca, cert, key } }` for an oracle that requires a token and/or
   * (mutual) TLS, or your own TimestampSource.
   */
  oracle: OracleOption;
  /**
   * Postgres connection URLs of the shards. Needed to create a cluster (the
   * order of the first migrate() numbers them); once the oracle keeps the
   * cluster's placement map, optional: the map names the shards, and a list
   * given may name any of them, in any order.
   */
  shards?: readonly string[];
  /** The drizzle tables, e.g. `{ accounts, orders }` or `import * as schema` (relations() and pgEnum() entries are skipped); every table needs a primary key. */
  schema: TSchema;
  /** Per table, a prefix of its primary key placing related rows on one shard, e.g. `{ orders: ['accountId'] }`. */
  shardKeys?: ShardKeys<TSchema>;
  /** pino logger; silent by default. */
  logger?: Logger;
  /** prom-client registry for the metrics; a private one (`db.registry`) by default. */
  registry?: Registry;
  /** Default isolation of db.transaction (default 'snapshot'). */
  isolation?: IsolationLevel;
  /** Default retries after retryable errors (default 10). */
  maxRetries?: number;
  retryBackoff?: RetryBackoff;
  /** Connection pool of each shard. */
  pool?: PoolOptions;
  /** Lifetime of a lock without heartbeat, after which others may roll it back. */
  lockTtlMs?: number;
  /** How long a reader waits on a live lock before LockWaitTimeoutError. */
  lockWaitTimeoutMs?: number;
  /**
   * Longest life of a transaction, from its start to its commit (default
   * 300000: 5 minutes). Past it its locks are released and it fails with
   * TransactionTimeoutError (not retried).
   */
  maxTransactionMs?: number;
  /**
   * Version GC: `{ lifetimeMs, intervalMs }` (defaults 10 minutes, 1 minute),
   * or false to keep every version. Transactions older than lifetimeMs fail
   * to read with SnapshotTooOldError (retryable).
   */
  gc?: GcOptions | false;
}

const DEFAULT_MAX_RETRIES = 10;
const KNOWN_OPTIONS = new Set([
  'oracle', 'shards', 'schema', 'shardKeys', 'logger', 'registry', 'isolation', 'maxRetries', 'retryBackoff', 'pool', 'lockTtlMs', 'lockWaitTimeoutMs', 'maxTransactionMs', 'gc',
]);
/** How long percolator() waits for each shard and for the oracle before giving up. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Connects to the shards and the timestamp oracle and returns a Drizzle-style
 * database whose transactions are snapshot-isolated across all shards.
 * Checks the schema first (SchemaError), then that every shard
 * (ShardUnavailableError) and the oracle (OracleUnavailableError) answer.
 * @example
 * import { pgTable, integer } from 'drizzle-orm/pg-core';
 * import { eq } from 'drizzle-orm';
 * import { percolator } from 'pg-percolator';
 *
 * const accounts = pgTable('accounts', { id: integer().primaryKey(), balance: integer().notNull() });
 * const db = await percolator({ oracle: ['127.0.0.1:7070'], shards: [url1, url2, url3], schema: { accounts } });
 * await db.migrate();
 * await db.insert(accounts).values({ id: 1, balance: 100 });
 * const [a] = await db.select().from(accounts).where(eq(accounts.id, 1));
 * await db.close();
 */
export async function percolator<TSchema extends Record<string, unknown>>(options: PercolatorOptions<TSchema>): Promise<Database<TSchema>> {
  // A misspelt option silently ignored is worse than an error.
  const unknown = Object.keys(options ?? {}).filter((key) => !KNOWN_OPTIONS.has(key));
  if (unknown.length > 0) throw new InvalidInputError(`unknown percolator() option ${unknown.join(', ')} (options: ${[...KNOWN_OPTIONS].join(', ')})`);
  const { shards, logger = silentLogger, registry = new Registry() } = options;
  const tables = new TableRegistry(options.schema, (options.shardKeys ?? {}) as Record<string, readonly string[]>);
  const isolation = options.isolation ?? 'snapshot';
  const maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
  checkIsolation(isolation);
  checkMaxRetries(maxRetries);
  checkPoolOptions(options.pool);
  checkMilliseconds('lockTtlMs', options.lockTtlMs, { zero: false });
  checkMilliseconds('lockWaitTimeoutMs', options.lockWaitTimeoutMs, { zero: true });
  checkMilliseconds('maxTransactionMs', options.maxTransactionMs, { zero: false });
  const backoff = resolveBackoff(options.retryBackoff);
  const log = logger.child({ component: 'percolator' });
  const oracle = resolveOracleOption(options.oracle);

  // The shards first: an unreachable one is named before the oracle is dialled.
  const probed = shards === undefined ? undefined : await probeShardList(shards, tables.storedTables, CONNECT_TIMEOUT_MS);
  const ownsTimestampSource = 'client' in oracle;
  const timestampSource = await connectOracle(oracle, log, registry);
  try {
    const oracleClient = ownsTimestampSource ? (timestampSource as OracleClient) : undefined;
    const cluster = await resolveClusterPlacement(shards, probed, oracleClient, tables.storedTables, CONNECT_TIMEOUT_MS);
    const engine = createTransactionEngine({
      shards: cluster.shards,
      placement: cluster.placement,
      timestampSource,
      logger: log,
      registry,
      pool: options.pool,
      lockTtlMs: options.lockTtlMs,
      lockWaitTimeoutMs: options.lockWaitTimeoutMs,
      maxTransactionMs: options.maxTransactionMs,
      gc: options.gc,
    });
    // Lock resolution must know every table a primary lock may live in.
    engine.register(tables.storageTables);
    log.debug({ shards: engine.placement.map.shards.map((s) => redactUrl(s.url)), tables: tables.tables.map((t) => t.name) }, 'connected');
    return new Database<TSchema>({
      engine,
      tables,
      timestampSource,
      ownsTimestampSource,
      logger: log,
      registry,
      metrics: clientMetrics(registry),
      defaults: { isolation, maxRetries, backoff },
    });
  } catch (error) {
    if (ownsTimestampSource) await timestampSource.close().catch(() => {});
    throw error;
  }
}

/** Creates the oracle client if given addresses, and makes sure a timestamp can be had. */
async function connectOracle(oracle: ReturnType<typeof resolveOracleOption>, logger: Logger, registry: Registry): Promise<TimestampSource> {
  const exposed = 'client' in oracle ? clearTextTokenAddresses(oracle.client) : [];
  if (exposed.length > 0) logger.warn({ addresses: exposed }, 'WARNING: the oracle token is sent without TLS to a non-loopback address: it travels in clear text (give oracle.tls)');
  const source = 'client' in oracle ? createOracleClient({ ...oracle.client, deadlineMs: CONNECT_TIMEOUT_MS, logger, registry }) : oracle.source;
  try {
    await source.getTimestamp({ signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS) });
    return source;
  } catch (error) {
    if ('client' in oracle) await source.close().catch(() => {});
    if (error instanceof PercolatorError && (error instanceof OracleUnavailableError || !error.retryable)) throw error;
    const where = 'client' in oracle ? oracle.client.addresses.join(', ') : 'the given TimestampSource';
    throw new OracleUnavailableError(`timestamp oracle (${where}) did not answer: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}
