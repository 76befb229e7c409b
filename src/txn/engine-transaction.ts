import { PgDialect } from 'drizzle-orm/pg-core';
import { InvalidInputError, PercolatorError, TransactionClosedError, TransactionTimeoutError, UniqueViolationError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TableMeta } from '../schema/table-meta.js';
import type { KeyTexts } from '../shard/key-text.js';
import { shardOfKey } from '../shard/shard-of.js';
import type { TableStorage } from '../shard/table-storage.js';
import { formatTimestamp, type Timestamp } from '../timestamp.js';
import type { EngineContext } from './engine-context.js';
import type { EngineTransaction, IsolationLevel, KeyValues, Row, RowLockRequest, ScanRequest } from './engine-contract.js';
import { keyIdOf, keyTextsOf, mutationOf, type Mutation } from './mutation.js';
import { PessimisticLocks } from './pessimistic-locks.js';
import { lockingGetMany, lockingSelect, validateLockingReadOnly, type LockingReadTarget } from './pessimistic-read.js';
import { ReadSet } from './read-set.js';
import { ShardReads } from './shard-reads.js';
import { TransactionDeadline } from './transaction-deadline.js';
import { TwoPhaseCommitter } from './two-phase-committer.js';
import { WriteBuffer } from './write-buffer.js';

const dialect = new PgDialect();

/**
 * One transaction: reads at startTs (merged with its own buffered writes;
 * shard-reads.ts), writes buffered until commit (write-buffer.ts), then
 * Percolator two-phase commit (two-phase-committer.ts). Records its read
 * set for serializable validation.
 */
export class PercolatorTransaction implements EngineTransaction {
  readonly readSet = new ReadSet();
  private readonly buffer = new WriteBuffer();
  private state: 'open' | 'committing' | 'closed' | 'timed-out' = 'open';
  private readonly logger: Logger;
  private readonly locks: PessimisticLocks;
  private readonly reads: ShardReads;
  private readonly deadline: TransactionDeadline;
  /** Set when the transaction outlived maxTransactionMs: every later call throws it. */
  timeoutError: TransactionTimeoutError | undefined;

  constructor(
    private readonly ctx: EngineContext,
    private readonly storageFor: (table: TableMeta) => TableStorage,
    readonly startTs: Timestamp,
    readonly isolation: IsolationLevel,
    private readonly readOnly: boolean,
  ) {
    this.logger = ctx.logger.child({ txn: formatTimestamp(startTs) });
    this.locks = new PessimisticLocks(ctx, startTs, this.logger);
    this.reads = new ShardReads(ctx, startTs, this.buffer, this.locks);
    this.deadline = new TransactionDeadline(ctx.maxTransactionMs, () => this.expire());
  }

  /** Only serializable commits validate reads; a snapshot transaction (even a 1,000-row scan) records none. */
  private get recordsReads(): boolean {
    return this.isolation === 'serializable';
  }

  get closed(): boolean {
    return this.state !== 'open';
  }

  async select(table: TableMeta, query: ScanRequest = {}): Promise<Row[]> {
    this.ensureOpen();
    const storage = this.storageFor(table);
    if (query.lock) {
      this.ensureWritable();
      return lockingSelect(this.lockingTarget(), storage, { ...query, lock: query.lock });
    }
    const shards = query.shards ?? this.ctx.shards.map((_, i) => i);
    const results = await Promise.all(shards.map((shard) => this.reads.scan(storage, shard, query)));
    if (this.recordsReads) {
      if (query.where) {
        const rendered = dialect.sqlToQuery(query.where);
        this.readSet.addPredicate({ table: table.name, where: { sql: rendered.sql, params: rendered.params }, shards, readTs: this.startTs });
      } else {
        this.readSet.addPredicate({ table: table.name, shards, readTs: this.startTs });
      }
    }
    const rows: Row[] = [];
    results.forEach((result, i) => {
      rows.push(...result.rows);
      if (this.recordsReads) for (const keyTexts of result.keyTexts) this.readSet.addKey({ table: table.name, keyTexts, shard: shards[i]! });
    });
    return rows;
  }

  /** Point reads by primary key, one statement per shard; rows in no particular order, missing keys absent. */
  async getMany(table: TableMeta, keys: readonly KeyValues[], options: { lock?: RowLockRequest | undefined } = {}): Promise<Row[]> {
    if (options.lock) this.ensureWritable();
    else this.ensureOpen();
    const storage = this.storageFor(table);
    const byShard = new Map<number, Map<string, KeyTexts>>();
    for (const key of keys) {
      const texts = keyTextsOf(storage, key);
      const shard = shardOfKey(table, texts, this.ctx.shards.length);
      const shardKeys = byShard.get(shard) ?? new Map<string, KeyTexts>();
      shardKeys.set(keyIdOf(texts), texts);
      byShard.set(shard, shardKeys);
    }
    if (options.lock) return lockingGetMany(this.lockingTarget(), storage, new Map([...byShard].map(([shard, k]) => [shard, [...k.values()]])), options.lock);
    const results = await Promise.all(
      [...byShard].map(async ([shard, shardKeys]) => {
        if (this.recordsReads) for (const keyTexts of shardKeys.values()) this.readSet.addKey({ table: table.name, keyTexts, shard });
        return (await this.reads.pointRead(storage, shard, shardKeys.values())).rows;
      }),
    );
    return results.flat();
  }

  async insert(table: TableMeta, rows: readonly Row[]): Promise<void> {
    this.ensureWritable();
    const storage = this.storageFor(table);
    const mutations = rows.map((row) => mutationOf(storage, row, 'put', true, this.ctx.shards.length));
    const fresh = new Set<string>();
    const unbuffered: Mutation[] = [];
    for (const m of mutations) {
      if (fresh.has(m.keyId)) throw new UniqueViolationError(table.name, m.key);
      fresh.add(m.keyId);
      const previous = this.buffer.get(table.name, m.keyId);
      if (previous?.op === 'put') throw new UniqueViolationError(table.name, m.key);
      if (!previous) unbuffered.push(m);
    }
    if (unbuffered.length > 0) {
      const existing = await this.getMany(table, unbuffered.map((m) => m.key));
      if (existing.length > 0) throw new UniqueViolationError(table.name, table.primaryKey.map((c) => existing[0]![c.key]));
    }
    // A key this transaction deleted existed at the snapshot: re-inserting it is a plain put.
    for (const m of mutations) this.buffer.set(this.buffer.get(table.name, m.keyId) ? { ...m, isInsert: false } : m);
  }

  put(table: TableMeta, rows: readonly Row[]): void {
    this.ensureWritable();
    const storage = this.storageFor(table);
    for (const row of rows) {
      const m = mutationOf(storage, row, 'put', false, this.ctx.shards.length);
      const previous = this.buffer.get(table.name, m.keyId);
      this.buffer.set(previous?.isInsert && previous.op === 'put' ? { ...m, isInsert: true } : m);
    }
  }

  delete(table: TableMeta, keys: readonly KeyValues[]): void {
    this.ensureWritable();
    const storage = this.storageFor(table);
    for (const key of keys) {
      const row: Row = {};
      table.primaryKey.forEach((c, i) => (row[c.key] = key[i]));
      this.buffer.set(mutationOf(storage, row, 'del', false, this.ctx.shards.length));
    }
  }

  async commit(): Promise<{ commitTs: Timestamp | undefined }> {
    this.ensureOpen();
    this.state = 'committing';
    this.deadline.clear();
    try {
      if (this.buffer.size === 0) {
        if (this.locks.holdsLocks) await validateLockingReadOnly(this.lockingTarget(), this.isolation).finally(() => this.locks.release());
        this.ctx.metrics.commits.inc({ kind: 'read-only' });
        return { commitTs: undefined };
      }
      const primary = this.locks.primary && (this.buffer.get(this.locks.primary.storage.meta.name, this.locks.primary.keyId) ?? this.locks.primary);
      const groups = this.buffer.byShard(primary);
      this.locks.handOver();
      const committer = new TwoPhaseCommitter(this.ctx, {
        startTs: this.startTs,
        isolation: this.isolation,
        readSet: this.readSet,
        groups,
        primary,
        logger: this.logger,
      });
      // Lock-only keys are released after the commit point (in the background) or after a failure; prewritten keys are not touched.
      const commitTs = await committer.execute().catch(async (error: unknown) => {
        await this.locks.release();
        throw error;
      });
      if (this.locks.holdsLocks && this.locks.hasLockOnlyKeys((table, keyId) => this.buffer.get(table, keyId) !== undefined)) this.ctx.track(this.locks.release());
      this.ctx.metrics.commits.inc({ kind: groups.size === 1 ? 'one-shard' : 'multi-shard' });
      return { commitTs };
    } catch (error) {
      this.ctx.metrics.aborts.inc({ cause: error instanceof PercolatorError ? error.code : 'UNKNOWN' });
      this.logger.debug({ err: error }, 'commit failed');
      throw error;
    } finally {
      this.state = 'closed';
      this.locks.ended();
    }
  }

  async rollback(): Promise<void> {
    // Nothing is written before commit; only locking reads' locks are to undo.
    this.deadline.clear();
    if (this.state !== 'timed-out') this.state = 'closed';
    await this.locks.release();
    this.locks.ended();
  }

  private lockingTarget(): LockingReadTarget {
    return {
      ctx: this.ctx,
      startTs: this.startTs,
      locks: this.locks,
      readSet: this.recordsReads ? this.readSet : undefined,
      buffered: (table, shard) => this.buffer.forTableOnShard(table, shard),
    };
  }

  /**
   * maxTransactionMs is up before commit: the locks go now (a hung caller must
   * not hold them, or the GC safe point, for ever) and every later call fails.
   */
  private expire(): void {
    if (this.state !== 'open') return;
    this.state = 'timed-out';
    this.timeoutError = new TransactionTimeoutError(
      `transaction ${formatTimestamp(this.startTs)} ran longer than maxTransactionMs (${this.deadline.limitMs} ms): its locks were released and it can only be rolled back`,
    );
    this.ctx.metrics.aborts.inc({ cause: this.timeoutError.code });
    if (this.locks.holdsLocks) this.logger.warn({ maxTransactionMs: this.deadline.limitMs }, 'transaction timed out; releasing its locks');
    else this.logger.debug({ maxTransactionMs: this.deadline.limitMs }, 'transaction timed out');
    this.ctx.track(this.locks.expire(this.timeoutError).finally(() => this.locks.ended()));
  }

  private ensureOpen(): void {
    if (this.state === 'open' && this.deadline.passed) this.expire();
    if (this.state === 'timed-out') throw this.timeoutError!;
    if (this.state !== 'open') throw new TransactionClosedError(`transaction ${formatTimestamp(this.startTs)} is already ${this.state === 'committing' ? 'committing' : 'closed'}`);
  }

  private ensureWritable(): void {
    this.ensureOpen();
    if (this.readOnly) throw new InvalidInputError('this transaction reads at a fixed timestamp (asOf) and cannot write');
  }
}
