import { performance } from 'node:perf_hooks';
import { PgDialect } from 'drizzle-orm/pg-core';
import { InvalidInputError, PercolatorError, TransactionClosedError, TransactionTimeoutError, UniqueViolationError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TableMeta } from '../schema/table-meta.js';
import { toDriverText } from '../shard/driver-values.js';
import { hasStableKeyText, keyTextOf } from '../shard/key-text.js';
import { shardOfTexts } from '../shard/shard-of.js';
import type { ShardPool } from '../shard/shard-pool.js';
import type { KeyTexts, TableStorage } from '../shard/table-storage.js';
import { formatTimestamp, type Timestamp } from '../timestamp.js';
import type { EngineContext } from './engine-context.js';
import type { EngineTransaction, IsolationLevel, KeyValues, Row, RowLockRequest, SelectQuery } from './engine-contract.js';
import { keyIdOf, type Mutation } from './mutation.js';
import { PessimisticLocks } from './pessimistic-locks.js';
import { lockingGetMany, lockingSelect, validateLockingReadOnly, type LockingReadTarget } from './pessimistic-read.js';
import { ReadSet } from './read-set.js';
import { buildPointRead } from './point-read.js';
import { runRead, runSnapshotRead, type ShardReadResult } from './snapshot-read.js';
import { TransactionDeadline } from './transaction-deadline.js';
import { TwoPhaseCommitter } from './two-phase-committer.js';
import { WriteBuffer } from './write-buffer.js';

const dialect = new PgDialect();

/**
 * One transaction: reads at startTs (merged with its own buffered writes),
 * writes buffered until commit, then Percolator two-phase commit. Records
 * its read set for serializable validation.
 */
export class PercolatorTransaction implements EngineTransaction {
  readonly readSet = new ReadSet();
  private readonly buffer = new WriteBuffer();
  private state: 'open' | 'committing' | 'closed' | 'timed-out' = 'open';
  private readonly logger: Logger;
  private readonly locks: PessimisticLocks;
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
    this.deadline = new TransactionDeadline(ctx.maxTransactionMs, () => this.expire());
  }

  /** Only serializable commits validate reads; a snapshot transaction (even a 1,000-row scan) records none. */
  private get recordsReads(): boolean {
    return this.isolation === 'serializable';
  }

  get closed(): boolean {
    return this.state !== 'open';
  }

  async select(table: TableMeta, query: SelectQuery = {}): Promise<Row[]> {
    this.ensureOpen();
    const storage = this.storageFor(table);
    if (query.lock) {
      this.ensureWritable();
      return lockingSelect(this.lockingTarget(), storage, { ...query, lock: query.lock });
    }
    const shards = query.shards ?? this.ctx.shards.map((_, i) => i);
    const results = await Promise.all(shards.map((shard) => this.scanShard(storage, shard, query)));
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
      const texts = this.keyTextsOf(storage, key);
      const shard = shardOfTexts(texts.slice(0, table.shardKey.length), this.ctx.shards.length);
      const shardKeys = byShard.get(shard) ?? new Map<string, KeyTexts>();
      shardKeys.set(keyIdOf(texts), texts);
      byShard.set(shard, shardKeys);
    }
    if (options.lock) return lockingGetMany(this.lockingTarget(), storage, new Map([...byShard].map(([shard, k]) => [shard, [...k.values()]])), options.lock);
    const results = await Promise.all(
      [...byShard].map(async ([shard, shardKeys]) => {
        if (this.recordsReads) for (const keyTexts of shardKeys.values()) this.readSet.addKey({ table: table.name, keyTexts, shard });
        return (await this.pointReadShard(storage, shard, shardKeys.values())).rows;
      }),
    );
    return results.flat();
  }

  /** Point reads of keys on one shard (one statement), this transaction's own writes and locked images included. */
  private pointReadShard(storage: TableStorage, shard: number, keys: Iterable<KeyTexts>): Promise<ShardReadResult> {
    // Keys this transaction wrote are answered from its buffer (puts as it wrote them, deletes absent).
    const stored: KeyTexts[] = [];
    const bufferedPuts: Mutation[] = [];
    for (const keyTexts of keys) {
      const keyId = keyIdOf(keyTexts);
      // A key a locking read locked reads as it was locked (its newest version), like a buffered write.
      const buffered = this.buffer.get(storage.meta.name, keyId) ?? this.locks.image(storage.meta.name, keyId);
      if (!buffered) stored.push(keyTexts);
      else if (buffered.op === 'put') bufferedPuts.push(buffered);
    }
    if (stored.length === 0 && bufferedPuts.length === 0) return Promise.resolve({ rows: [], keyTexts: [], locks: [] }); // all deleted by us
    const request = { storage, readTs: this.startTs, ownStartTs: this.startTs, keys: stored, bufferedPuts };
    // Without buffered images, the read can share a statement with other transactions' (point-read.ts).
    if (bufferedPuts.length === 0) return this.readShard(shard, () => this.ctx.pointReads.submit(this.pool(shard), storage, request));
    return this.readShard(shard, () => runRead(this.pool(shard), storage, this.startTs, buildPointRead(request)));
  }

  async insert(table: TableMeta, rows: readonly Row[]): Promise<void> {
    this.ensureWritable();
    const storage = this.storageFor(table);
    const mutations = rows.map((row) => this.mutationOf(storage, row, 'put', true));
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
      const m = this.mutationOf(storage, row, 'put', false);
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
      this.buffer.set(this.mutationOf(storage, row, 'del', false));
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

  /** A filtered read of one shard: one statement, buffered writes merged in SQL. */
  private scanShard(storage: TableStorage, shard: number, query: SelectQuery): Promise<ShardReadResult> {
    const request = {
      storage,
      readTs: this.startTs,
      ownStartTs: this.startTs,
      where: query.where,
      orderBy: query.orderBy,
      limit: query.limit,
      buffered: this.viewOnShard(storage.meta.name, shard),
    };
    // A whole-table read (no filter, order or limit: an audit) that meets locks of owners
    // that turn out committed inside its snapshot re-reads only their keys, not the shard.
    const partial = !query.where && !query.orderBy?.length && query.limit === undefined && storage.pk.every(hasStableKeyText);
    return this.readShard(
      shard,
      () => runSnapshotRead(this.pool(shard), request),
      partial ? (keys) => this.pointReadShard(storage, shard, keys) : undefined,
    );
  }

  /** Runs a read until no lock it met stands in its way (resolved, pushed past our snapshot, or timed out). */
  private async readShard(
    shard: number,
    read: () => Promise<ShardReadResult>,
    readKeys?: (keys: KeyTexts[]) => Promise<ShardReadResult>,
  ): Promise<ShardReadResult> {
    const startedAt = Date.now();
    const deadline = startedAt + this.ctx.lockWaitTimeoutMs;
    let sentAt = performance.now();
    let result = await read();
    for (let attempt = 0; ; attempt++) {
      if (result.locks.length === 0) return result;
      const verdict = await this.ctx.resolver.resolveForRead(result.locks, this.startTs, sentAt, startedAt, deadline, attempt);
      if (verdict.kind === 'rows-stand') return { ...result, locks: [] };
      sentAt = performance.now();
      // Keys read again may meet new locks (or one whose roll-forward was lost): the loop looks at those.
      if (verdict.kind === 'read-keys-again' && readKeys) result = replaceKeys(result, verdict.keys, await readKeys(verdict.keys));
      else result = await read();
    }
  }

  /** Own writes, then the newest images of keys locked by locking reads (they replace the snapshot's versions). */
  private viewOnShard(table: string, shard: number): Mutation[] {
    const written = this.buffer.forTableOnShard(table, shard);
    const locked = this.locks.imagesOn(table, shard);
    if (locked.length === 0) return written;
    const ids = new Set(written.map((m) => m.keyId));
    return [...written, ...locked.filter((m) => !ids.has(m.keyId))];
  }

  private pool(shard: number): ShardPool {
    const pool = this.ctx.shards[shard];
    if (!pool) throw new InvalidInputError(`shard index ${shard} out of range (0..${this.ctx.shards.length - 1})`);
    return pool;
  }

  private keyTextsOf(storage: TableStorage, key: KeyValues): KeyTexts {
    if (key.length !== storage.pk.length) {
      throw new InvalidInputError(`key of ${storage.meta.name} needs ${storage.pk.length} values (${storage.pk.map((c) => c.key).join(', ')}), got ${key.length}`);
    }
    return storage.pk.map((c, i) => {
      const text = keyTextOf(c, key[i]);
      if (text === null) throw new InvalidInputError(`primary key column ${storage.meta.name}.${c.key} must not be null`);
      return text;
    });
  }

  private mutationOf(storage: TableStorage, row: Row, op: 'put' | 'del', isInsert: boolean): Mutation {
    const key = storage.pk.map((c) => row[c.key]);
    const keyTexts = this.keyTextsOf(storage, key);
    return {
      storage,
      keyId: keyIdOf(keyTexts),
      key,
      keyTexts,
      shard: shardOfTexts(keyTexts.slice(0, storage.meta.shardKey.length), this.ctx.shards.length),
      op,
      isInsert,
      row: op === 'put' ? row : undefined,
      valueTexts: op === 'put' ? storage.valueColumns.map((c) => toDriverText(c, row[c.key])) : undefined,
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

/** `result` with the rows of `keys` replaced by what `fresh` read of them (absent keys dropped), and only `fresh`'s locks. */
function replaceKeys(result: ShardReadResult, keys: readonly KeyTexts[], fresh: ShardReadResult): ShardReadResult {
  const replaced = new Set(keys.map(keyIdOf));
  const merged: ShardReadResult = { rows: [], keyTexts: [], locks: fresh.locks };
  result.rows.forEach((row, i) => {
    if (replaced.has(keyIdOf(result.keyTexts[i]!))) return;
    merged.rows.push(row);
    merged.keyTexts.push(result.keyTexts[i]!);
  });
  merged.rows.push(...fresh.rows);
  merged.keyTexts.push(...fresh.keyTexts);
  return merged;
}
