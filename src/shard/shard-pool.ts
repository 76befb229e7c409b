import { createHash } from 'node:crypto';
import pg from 'pg';
import { ShardUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import { ConnectionPool } from './connection-pool.js';
import { PipelinedConnections } from './pipelined-connections.js';
import { PreparedQuery, type RowMode, type ShardQueryResult } from './prepared-query.js';
import { translateShardError } from './shard-errors.js';
import { parseShardAddress } from './shard-address.js';
import { PrimaryConnector } from './shard-primary.js';
import { markNotSent } from './statement-not-sent.js';
import { checkBindParameters } from './statement-limits.js';

export interface ShardPoolOptions {
  /** Connections for local transactions of several statements (lock resolution, writes of several chunks). */
  max?: number;
  /** Pipelined connections that carry every single-statement local transaction (PipelinedConnections); default 4. */
  pipelines?: number;
  /** Most statements in flight on one pipelined connection; past it on all of them, statements wait unsent (default 32). */
  pipelineDepth?: number;
  idleTimeoutMillis?: number;
  /** Client-side deadline of one statement; a shard that does not answer in time counts as unavailable. */
  statementTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** A statement with a stable text: prepared once per connection under a name derived from its text. */
export interface Statement {
  readonly text: string;
  readonly values: readonly unknown[];
}

// Like drizzle's node-postgres driver: dates, timestamps, intervals and their
// arrays stay strings so that drizzle's column mappers see what they expect.
const RAW_TYPE_IDS = new Set([1184, 1114, 1082, 1186, 1231, 1115, 1185, 1187, 1182]);
const keepText = (value: string): string => value;
const parserOf = (typeId: number): ((text: string) => unknown) => (RAW_TYPE_IDS.has(typeId) ? keepText : pg.types.getTypeParser(typeId, 'text'));
const drizzleTypes = {
  getTypeParser: (typeId: number, format?: string) => (RAW_TYPE_IDS.has(typeId) ? keepText : pg.types.getTypeParser(typeId, format as 'text')),
} as pg.CustomTypesConfig;

export type { ShardQueryResult } from './prepared-query.js';

/**
 * Planning settings of every pool: generic plans (see where they are used),
 * and no JIT: the snapshot view's estimated cost per row puts scans of a few
 * thousand rows past Postgres's JIT thresholds, and compiling every large
 * scan or aggregate at each execution would cost more than it runs.
 */
const GENERIC_PLANS = '-c plan_cache_mode=force_generic_plan -c jit=off';
/**
 * Pipelined statements wait on row locks only for other statements, which
 * hold them for milliseconds; a wait this long means a stuck local
 * transaction elsewhere, and everything queued behind the waiting statement
 * would stall with it. The statement fails instead (55P03, retryable like a
 * deadlock: isPostgresAbort).
 */
const PIPELINE_LOCK_TIMEOUT = '-c lock_timeout=1000';

/**
 * One shard: pipelined connections for single statements, a bounded pool of
 * connections for local transactions of several statements, and error
 * translation. Every failure of the driver leaves here as a catalogue error
 * (translateShardError): ShardUnavailableError when the shard is gone.
 */
export class ShardPool {
  /** Single statements, each its own local transaction. */
  private readonly pipelines: PipelinedConnections;
  /** The same with synchronous_commit off, for writes the protocol can redo (opened on first use). */
  private lazyPipelines: PipelinedConnections | undefined;
  /** Checked out for the length of a local transaction (transaction()). */
  private readonly connections: ConnectionPool;
  private closing = false;
  private readonly names = new Map<string, string>();
  /** Opens every connection of the shard: to its one host, or to whichever of its hosts is the primary (shard-primary.ts). */
  private readonly connector: PrimaryConnector;
  /** Human-readable shard name for errors: index and host:port (every host of a multi-host URL), never the password. */
  readonly name: string;

  constructor(
    readonly index: number,
    readonly url: string,
    private readonly logger: Logger,
    private readonly options: ShardPoolOptions = {},
  ) {
    const address = parseShardAddress(url);
    this.name = address.hosts.length > 0 ? `#${index} (${address.hosts.join(',')})` : `#${index}`;
    this.connector = new PrimaryConnector(address, this.name, logger);
    this.pipelines = this.createPipelines(`${GENERIC_PLANS} ${PIPELINE_LOCK_TIMEOUT}`);
    this.connections = new ConnectionPool({
      client: this.clientConfig(GENERIC_PLANS),
      max: options.max ?? 10,
      idleTimeoutMillis: options.idleTimeoutMillis ?? 10_000,
      acquireTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      connect: this.connector.connect,
      // An idle connection dying (shard restart) must not crash the process.
      onIdleError: (error) => this.logger.warn({ shard: this.index, err: error }, 'idle shard connection failed'),
    });
  }

  private clientConfig(startupOptions: string): pg.ClientConfig {
    return {
      connectionString: this.url,
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? 5_000,
      query_timeout: this.options.statementTimeoutMs ?? 30_000,
      // Every statement of the protocol is written for index access whatever
      // its parameters; generic plans spare re-planning them on each call.
      options: startupOptions,
      types: drizzleTypes,
    };
  }

  private createPipelines(startupOptions: string): PipelinedConnections {
    return new PipelinedConnections({
      client: this.clientConfig(startupOptions),
      count: this.options.pipelines ?? 4,
      maxInFlight: this.options.pipelineDepth ?? 32,
      waitTimeoutMs: this.options.connectTimeoutMs ?? 5_000,
      idleTimeoutMs: this.options.idleTimeoutMillis ?? 10_000,
      connect: this.connector.connect,
      onError: (error) => this.logger.warn({ shard: this.index, err: error }, 'shard connection failed'),
    });
  }

  /**
   * Runs one statement, as its own local transaction, on one of the
   * pipelined connections (or on the given one, inside transaction()). With
   * `prepare`, it runs as a named prepared statement: parsed and planned
   * once per connection (see PreparedQuery). `lazy`: on a
   * connection whose commits do not wait for the WAL flush
   * (synchronous_commit off), for writes that a crash may lose because the
   * protocol redoes them or a later durable write on the same server makes
   * them durable (see prewrite.ts and commit-secondaries.ts). Never for
   * commitPrimary or anything a decision rests on. `rowMode` 'array': rows
   * as arrays of values, named by the result's `columns`.
   */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    statement: Statement,
    options: { prepare?: boolean; client?: pg.PoolClient; lazy?: boolean; rowMode?: RowMode } = {},
  ): Promise<ShardQueryResult<R>> {
    // Plain promise chains, not async functions: this runs for every
    // statement, and each async layer costs a promise and microtask hops.
    try {
      checkBindParameters(statement.values, this.name);
      const name = options.prepare ? this.statementName(statement.text) : undefined;
      const rowMode = options.rowMode ?? 'object';
      if (options.client) return this.run<R>(options.client, statement, name, rowMode);
      const pipelines = options.lazy ? this.lazyConnections() : this.pipelines;
      return pipelines.run((client) => this.run<R>(client, statement, name, rowMode)).catch((error: unknown) => {
        throw translateShardError(this.name, error, true);
      });
    } catch (error) {
      return Promise.reject(translateShardError(this.name, error));
    }
  }

  /** One statement on `client`; every failure leaves as a catalogue error (translateShardError). */
  private run<R extends pg.QueryResultRow>(client: pg.Client, statement: Statement, name: string | undefined, rowMode: RowMode): Promise<ShardQueryResult<R>> {
    if (name === undefined && rowMode === 'array') {
      const config: pg.QueryArrayConfig = { text: statement.text, values: statement.values as unknown[], rowMode: 'array' };
      return client.query(config).then(
        (result) => ({ rows: result.rows as unknown as R[], rowCount: result.rowCount, columns: result.fields.map((f) => f.name) }),
        (error: unknown) => {
          throw translateShardError(this.name, error, true);
        },
      );
    }
    if (name === undefined) {
      return client.query<R>({ text: statement.text, values: statement.values as unknown[] }).catch((error: unknown) => {
        throw translateShardError(this.name, error, true);
      });
    }
    return new Promise<ShardQueryResult<R>>((resolve, reject) => {
      const query = new PreparedQuery<R>(name, statement.text, statement.values, parserOf, rowMode);
      query.callback = (error, result) => (error ? reject(translateShardError(this.name, error, true)) : resolve(result!));
      client.query(query);
    });
  }

  /** A connection of the bounded pool; failing to get one means nothing was sent. */
  private async acquire(): Promise<pg.PoolClient> {
    try {
      return await this.connections.acquire();
    } catch (error) {
      throw translateShardError(this.name, markNotSent(error), true);
    }
  }

  /**
   * Runs `work` on one connection of its own, outside any transaction, and
   * closes that connection after: whatever the session held (an advisory
   * lock) ends with it.
   */
  async session<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.acquire();
    try {
      return await work(client);
    } catch (error) {
      throw translateShardError(this.name, error);
    } finally {
      this.connections.release(client, true);
    }
  }

  /** Runs `work` inside one local transaction on one connection. */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.acquire();
    // A connection that dies between statements is marked dead by the pool; the next statement fails anyway.
    let discard = false;
    try {
      // Nothing of `work` runs when the transaction cannot even begin.
      await this.query({ text: 'begin', values: [] }, { client }).catch((error: unknown) => {
        throw markNotSent(error);
      });
      const result = await work(client);
      await this.query({ text: 'commit', values: [] }, { client });
      return result;
    } catch (error) {
      const translated = translateShardError(this.name, error);
      // A connection whose server went away or is read-only (a standby after a failover) is not reused.
      if (translated instanceof ShardUnavailableError) discard = true;
      else {
        await client.query('rollback').catch(() => {
          discard = true;
        });
      }
      throw translated;
    } finally {
      // A connection that failed (or whose rollback failed) is discarded, not reused.
      this.connections.release(client, discard);
    }
  }

  /** The synchronous_commit=off connections, opened on first use; after close() the (closed) main ones answer. */
  private lazyConnections(): PipelinedConnections {
    if (this.closing) return this.pipelines;
    return (this.lazyPipelines ??= this.createPipelines(`${GENERIC_PLANS} ${PIPELINE_LOCK_TIMEOUT} -c synchronous_commit=off`));
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([this.connections.close(), this.pipelines.close(), this.lazyPipelines?.close()]);
  }

  // Each connection keeps every statement it prepared: past this many distinct
  // texts (e.g. filters of ever-changing shape), new ones run unprepared.
  private static readonly MAX_PREPARED = 2000;

  private statementName(text: string): string | undefined {
    let name = this.names.get(text);
    if (!name) {
      if (this.names.size >= ShardPool.MAX_PREPARED) return undefined;
      name = preparedStatementName(text);
      this.names.set(text, name);
    }
    return name;
  }
}

/** The name a statement is prepared under on every connection: derived from its text, so one text is one prepared statement. */
export function preparedStatementName(text: string): string {
  return `pc_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
}
