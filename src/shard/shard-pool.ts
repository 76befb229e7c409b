import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { translateShardError } from './shard-errors.js';

export interface ShardPoolOptions {
  max?: number;
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
const drizzleTypes = {
  getTypeParser: (typeId: number, format?: string) =>
    RAW_TYPE_IDS.has(typeId) ? (value: string) => value : pg.types.getTypeParser(typeId, format as 'text'),
};

export type Queryable = pg.Pool | pg.PoolClient;

/** Connection settings of every pool: see the comment where they are used. */
const GENERIC_PLANS = '-c plan_cache_mode=force_generic_plan';

/**
 * One shard: a bounded pg pool plus error translation. Every failure that
 * means "the shard is gone" leaves here as ShardUnavailableError.
 */
export class ShardPool {
  readonly pool: pg.Pool;
  /** Connections with synchronous_commit off, for writes the protocol can redo (created on first use). */
  private lazyPool: pg.Pool | undefined;
  private readonly names = new Map<string, string>();

  constructor(
    readonly index: number,
    readonly url: string,
    private readonly logger: Logger,
    options: ShardPoolOptions = {},
  ) {
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.max ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      query_timeout: options.statementTimeoutMs ?? 30_000,
      idleTimeoutMillis: options.idleTimeoutMillis ?? 10_000,
      // Every statement of the protocol is written for index access whatever
      // its parameters; generic plans spare re-planning them on each call.
      options: GENERIC_PLANS,
    });
    // An idle connection dying (shard restart) must not crash the process.
    this.pool.on('error', (error) => this.logger.warn({ shard: index, err: error.message }, 'idle shard connection failed'));
  }

  /** Human-readable shard name for errors: index and host:port, never the password. */
  get name(): string {
    try {
      const u = new URL(this.url);
      return `#${this.index} (${u.host})`;
    } catch {
      return `#${this.index}`;
    }
  }

  /**
   * Runs one statement (named/prepared when `prepare` is true) on a pooled
   * connection or the given client. `lazy`: on a connection whose commits
   * do not wait for the WAL flush (synchronous_commit off), for writes that
   * a crash may lose because the protocol redoes them or a later durable
   * write on the same server makes them durable (see prewrite.ts and
   * commit-secondaries.ts). Never for commitPrimary or anything a decision
   * rests on.
   */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    statement: Statement,
    options: { prepare?: boolean; client?: pg.PoolClient; lazy?: boolean } = {},
  ): Promise<pg.QueryResult<R>> {
    const config: pg.QueryConfig = { text: statement.text, values: statement.values as unknown[], types: drizzleTypes } as pg.QueryConfig;
    if (options.prepare) {
      const name = this.statementName(statement.text);
      if (name) config.name = name;
    }
    try {
      return await (options.client ?? (options.lazy ? this.lazyConnections() : this.pool)).query<R>(config);
    } catch (error) {
      throw translateShardError(this.name, error);
    }
  }

  /** Runs `work` inside one local transaction on one connection. */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw translateShardError(this.name, error);
    }
    let discard: Error | undefined;
    // A checked-out connection that dies between statements emits 'error';
    // unhandled, that would crash the process. The next statement fails anyway.
    const onError = (error: Error): void => {
      discard = error;
    };
    client.on('error', onError);
    try {
      await this.query({ text: 'begin', values: [] }, { client });
      const result = await work(client);
      await this.query({ text: 'commit', values: [] }, { client });
      return result;
    } catch (error) {
      await client.query('rollback').catch((e: unknown) => {
        discard = e instanceof Error ? e : new Error(String(e));
      });
      throw translateShardError(this.name, error);
    } finally {
      // A connection that failed (or whose rollback failed) is discarded, not reused.
      client.off('error', onError);
      client.release(discard);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.end().catch(() => {}), this.lazyPool?.end().catch(() => {})]);
  }

  private lazyConnections(): pg.Pool {
    if (!this.lazyPool) {
      const { options } = this.pool;
      this.lazyPool = new pg.Pool({
        connectionString: this.url,
        max: options.max ?? 10,
        connectionTimeoutMillis: options.connectionTimeoutMillis,
        query_timeout: options.query_timeout,
        idleTimeoutMillis: options.idleTimeoutMillis,
        options: `${GENERIC_PLANS} -c synchronous_commit=off`,
      });
      this.lazyPool.on('error', (error) => this.logger.warn({ shard: this.index, err: error.message }, 'idle shard connection failed'));
    }
    return this.lazyPool;
  }

  // Each connection keeps every statement it prepared: past this many distinct
  // texts (e.g. filters of ever-changing shape), new ones run unprepared.
  private static readonly MAX_PREPARED = 2000;

  private statementName(text: string): string | undefined {
    let name = this.names.get(text);
    if (!name) {
      if (this.names.size >= ShardPool.MAX_PREPARED) return undefined;
      name = `pc_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
      this.names.set(text, name);
    }
    return name;
  }
}
