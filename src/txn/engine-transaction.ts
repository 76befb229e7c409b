import { PgDialect } from 'drizzle-orm/pg-core';
import { InvalidInputError, PercolatorError, TransactionClosedError, TransactionTimeoutError, UniqueViolationError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { IndexMeta, TableMeta } from '../schema/table-meta.js';
import type { KeyTexts } from '../shard/key-text.js';
import type { ShardPool } from '../shard/shard-pool.js';
import type { TableStorage } from '../shard/table-storage.js';
import { formatTimestamp, type Timestamp } from '../timestamp.js';
import type { EngineContext } from './engine-context.js';
import type { EngineTransaction, IndexCandidates, IsolationLevel, JoinedRow, JoinRequest, KeyValues, ProjectedRow, ProjectionRequest, Row, RowLockRequest, ScanRequest, WriteOptions } from './engine-contract.js';
import { indexCandidates } from './index-candidates.js';
import { entryRowOf, IndexWrites, uniqueEntryKeys } from './index-writes.js';
import { keyIdOf, keyTextsOf, mutationOf, type Mutation } from './mutation.js';
import { PessimisticLocks } from './pessimistic-locks.js';
import { lockingGetMany, lockingSelect, validateLockingReadOnly, type CandidateSource, type LockingReadTarget } from './pessimistic-read.js';
import { ReadSet, scannedFilter } from './read-set.js';
import { ShardReads } from './shard-reads.js';
import { rowKeyTexts } from './snapshot-read.js';
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
  readonly readSet: ReadSet;
  private readonly buffer = new WriteBuffer();
  private state: 'open' | 'committing' | 'closed' | 'timed-out' = 'open';
  private readonly logger: Logger;
  private readonly locks: PessimisticLocks;
  private readonly reads: ShardReads;
  private readonly deadline: TransactionDeadline;
  private readonly indexWrites: IndexWrites;
  /** Set when the transaction outlived maxTransactionMs: every later call throws it. */
  timeoutError: TransactionTimeoutError | undefined;

  constructor(
    private readonly ctx: EngineContext,
    private readonly storageFor: (table: TableMeta) => TableStorage,
    readonly startTs: Timestamp,
    readonly isolation: IsolationLevel,
    private readonly readOnly: boolean,
    /** Reads served by standbys (asOf with standby): the pool of a caught-up standby of a shard. */
    standby?: (shard: number) => Promise<ShardPool>,
  ) {
    this.logger = ctx.logger.child({ txn: formatTimestamp(startTs) });
    this.readSet = new ReadSet(ctx.placement.map.version);
    this.locks = new PessimisticLocks(ctx, startTs, this.logger);
    this.reads = new ShardReads(ctx, startTs, this.buffer, this.locks, standby);
    this.indexWrites = new IndexWrites(
      this.buffer,
      ctx.placement,
      storageFor,
      (table, keys, newest) => this.readCommitted(table, keys, newest),
      (table, keyId) => this.locks.image(table, keyId) !== undefined,
    );
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
    // An index's storage is read with this transaction's own entries in it.
    if (table.indexOf) await this.indexWrites.sync(table.indexOf.table);
    if (query.lock) {
      this.ensureWritable();
      const through = query.through && this.candidatesThrough(table, storage, query.through);
      return lockingSelect(this.lockingTarget(), storage, { ...query, lock: query.lock }, through);
    }
    // One map version for every shard of the statement: each slot's rows are read from exactly one of them.
    const mapVersion = this.ctx.placement.map.version;
    const shards = query.shards ?? this.ctx.placement.shardIds();
    const results = await Promise.all(shards.map((shard) => this.reads.scan(storage, shard, query, mapVersion)));
    if (this.recordsReads) {
      if (query.where) {
        const rendered = dialect.sqlToQuery(query.where);
        this.readSet.addPredicate({ table: table.name, where: { sql: rendered.sql, params: rendered.params }, shards, readTs: this.startTs });
      } else {
        this.readSet.addPredicate({ table: table.name, shards, readTs: this.startTs });
      }
    }
    if (results.length === 1) return this.recordScanned(table.name, storage, shards[0]!, results[0]!.rows);
    const rows: Row[] = [];
    results.forEach((result, i) => {
      for (const row of this.recordScanned(table.name, storage, shards[i]!, result.rows)) rows.push(row);
    });
    return rows;
  }

  /** A scan's rows of one shard, their keys recorded when reads are validated (serializable). */
  private recordScanned(table: string, storage: TableStorage, shard: number, rows: Row[]): Row[] {
    if (this.recordsReads) for (const row of rows) this.readSet.addKey({ table, keyTexts: rowKeyTexts(storage, row), shard });
    return rows;
  }

  usableIndexes(table: TableMeta): Promise<readonly IndexMeta[]> {
    // Rows this transaction locked read as their newest images, newer than the entries at its snapshot: scan instead.
    if (this.locks.hasImagesOf(table.name)) return Promise.resolve([]);
    return this.ctx.indexReadiness.usable(table, this.startTs);
  }

  async project(table: TableMeta, request: ProjectionRequest): Promise<ProjectedRow[]> {
    this.ensureOpen();
    const storage = this.storageFor(table);
    const mapVersion = this.ctx.placement.map.version;
    const shards = request.shards ?? this.ctx.placement.shardIds();
    const results = await Promise.all(shards.map((shard) => this.reads.project(storage, shard, request, mapVersion)));
    // No keys come back: validation must also see rows that left the filtered set (their image at startTs matched).
    if (this.recordsReads) this.readSet.addPredicate({ ...scannedFilter(request.where), table: table.name, shards, readTs: this.startTs, leavingRows: true });
    return results.flatMap((result) => result.rows);
  }

  async join(request: JoinRequest): Promise<JoinedRow[]> {
    this.ensureOpen();
    const storages = request.tables.map((t) => this.storageFor(t.table));
    const mapVersion = this.ctx.placement.map.version;
    const shards = request.shards ?? this.ctx.placement.shardIds();
    const results = await Promise.all(shards.map((shard) => this.reads.join(storages, shard, request, mapVersion)));
    if (this.recordsReads) {
      // Per table: its filter as a predicate (a write that could bring a row of it into the result) and the keys returned (rows that could leave it).
      for (const { table, filter } of request.tables) this.readSet.addPredicate({ ...scannedFilter(filter), table: table.name, shards, readTs: this.startTs });
      results.forEach((result, i) =>
        result.keyTexts.forEach((keys, t) => {
          for (const keyTexts of keys) this.readSet.addKey({ table: request.tables[t]!.table.name, keyTexts, shard: shards[i]! });
        }),
      );
    }
    return results.flatMap((result) => result.rows);
  }

  /** Point reads by primary key, one statement per shard; rows in no particular order, missing keys absent. */
  async getMany(table: TableMeta, keys: readonly KeyValues[], options: { lock?: RowLockRequest | undefined } = {}): Promise<Row[]> {
    if (options.lock) this.ensureWritable();
    else this.ensureOpen();
    const storage = this.storageFor(table);
    if (table.indexOf) await this.indexWrites.sync(table.indexOf.table);
    // The map version the keys are placed by (a shard that deleted a slot's rows since refuses it).
    const mapVersion = this.ctx.placement.map.version;
    const byShard = new Map<number, Map<string, KeyTexts>>();
    for (const key of keys) {
      const texts = keyTextsOf(storage, key);
      const shard = this.ctx.placement.shardOfKey(table, texts);
      const shardKeys = byShard.get(shard) ?? new Map<string, KeyTexts>();
      shardKeys.set(keyIdOf(texts), texts);
      byShard.set(shard, shardKeys);
    }
    if (options.lock) return lockingGetMany(this.lockingTarget(), storage, new Map([...byShard].map(([shard, k]) => [shard, [...k.values()]])), options.lock);
    const results = await Promise.all(
      [...byShard].map(async ([shard, shardKeys]) => {
        if (this.recordsReads) for (const keyTexts of shardKeys.values()) this.readSet.addKey({ table: table.name, keyTexts, shard });
        return (await this.reads.pointRead(storage, shard, shardKeys.values(), mapVersion)).rows;
      }),
    );
    return results.flat();
  }

  async insert(table: TableMeta, rows: readonly Row[]): Promise<void> {
    this.ensureWritable();
    const storage = this.storageFor(table);
    const mutations = rows.map((row) => mutationOf(storage, row, 'put', true, this.ctx.placement));
    const fresh = new Set<string>();
    const unbuffered: Mutation[] = [];
    for (const m of mutations) {
      if (fresh.has(m.keyId)) throw new UniqueViolationError(table.name, m.key);
      fresh.add(m.keyId);
      const previous = this.buffer.get(table.name, m.keyId);
      if (previous?.op === 'put') throw new UniqueViolationError(table.name, m.key);
      if (!previous) unbuffered.push(m);
    }
    // Unique indexes: the values must be free in this transaction's view (its own entries up to date first).
    const uniques = table.indexes.filter((index) => index.unique);
    if (uniques.length > 0) await this.indexWrites.sync(table);
    const [existing] = await Promise.all([
      unbuffered.length > 0 ? this.getMany(table, unbuffered.map((m) => m.key)) : [],
      ...uniques.map((index) => this.checkUniqueFree(index, rows)),
    ]);
    if (existing.length > 0) throw new UniqueViolationError(table.name, table.primaryKey.map((c) => existing[0]![c.key]));
    for (const m of mutations) {
      // Checked absent above, unless this transaction wrote the key (which keeps its first before-image).
      this.indexWrites.noteWrite(table, m.keyId, m.key, null);
      // A key this transaction deleted existed at the snapshot: re-inserting it is a plain put.
      this.buffer.set(this.buffer.get(table.name, m.keyId) ? { ...m, isInsert: false } : m);
    }
  }

  put(table: TableMeta, rows: readonly Row[], options: WriteOptions = {}): void {
    this.ensureWritable();
    const storage = this.storageFor(table);
    rows.forEach((row, i) => {
      const m = mutationOf(storage, row, 'put', false, this.ctx.placement);
      const previous = this.buffer.get(table.name, m.keyId);
      this.noteIndexedWrite(table, m, previous, options.previous?.[i]);
      this.buffer.set(previous?.isInsert && previous.op === 'put' ? { ...m, isInsert: true } : m);
    });
  }

  delete(table: TableMeta, keys: readonly KeyValues[], options: WriteOptions = {}): void {
    this.ensureWritable();
    const storage = this.storageFor(table);
    keys.forEach((key, i) => {
      const row: Row = {};
      table.primaryKey.forEach((c, k) => (row[c.key] = key[k]));
      const m = mutationOf(storage, row, 'del', false, this.ctx.placement);
      this.noteIndexedWrite(table, m, this.buffer.get(table.name, m.keyId), options.previous?.[i]);
      this.buffer.set(m);
    });
  }

  /**
   * The image a row of an indexed table had before this transaction, for
   * its index entries (index-writes.ts): a key locked by a locking read and
   * not written yet has its newest committed version as lock image; else
   * what the caller read (unknown: read at the snapshot before commit).
   */
  private noteIndexedWrite(table: TableMeta, m: Mutation, buffered: Mutation | undefined, previous: Row | null | undefined): void {
    if (table.indexes.length === 0) return;
    const locked = buffered ? undefined : this.locks.image(table.name, m.keyId);
    const before = locked ? (locked.op === 'put' ? locked.row ?? null : null) : previous;
    this.indexWrites.noteWrite(table, m.keyId, m.key, before, locked !== undefined);
  }

  /**
   * Index build (index-backfill.ts): buffers the entries of `rows` (read by
   * this transaction) that `index` lacks, each with a lock-only write of its
   * row, so that a row changed before this transaction commits is a write
   * conflict (its writer maintains the entry itself). An entry already there
   * for the same row is skipped; a unique value held by another row is a
   * UniqueViolationError (the table's rows violate the constraint).
   */
  async backfillEntries(index: IndexMeta, rows: readonly Row[]): Promise<number> {
    this.ensureWritable();
    const storage = this.storageFor(index.storage);
    const rowStorage = this.storageFor(index.table);
    const pending = rows.flatMap((row) => {
      const entry = entryRowOf(index, row);
      return entry ? [{ row, m: mutationOf(storage, entry, 'put', index.unique, this.ctx.placement) }] : [];
    });
    const found = await this.getMany(index.storage, pending.map((p) => p.m.key));
    const holders = new Map(found.map((entry) => [keyIdOf(keyTextsOf(storage, storage.pk.map((c) => entry[c.key]))), entry]));
    const rowId = (row: Row) => keyIdOf(keyTextsOf(rowStorage, index.table.primaryKey.map((c) => row[c.key])));
    let written = 0;
    for (const { row, m } of pending) {
      const holder = holders.get(m.keyId);
      if (holder) {
        if (rowId(holder) === rowId(row)) continue;
        throw new UniqueViolationError(index.table.name, index.columns.map((c) => row[c.key]), index.name);
      }
      holders.set(m.keyId, row);
      this.buffer.set(m);
      const guard = mutationOf(rowStorage, row, 'del', false, this.ctx.placement);
      this.buffer.set({ ...guard, op: 'lock' });
      written++;
    }
    return written;
  }

  /** UniqueViolationError if a unique index already holds one of these rows' values (in this transaction's view), or two rows share one. */
  private async checkUniqueFree(index: IndexMeta, rows: readonly Row[]): Promise<void> {
    const keys = uniqueEntryKeys(index, rows);
    const storage = this.storageFor(index.storage);
    const seen = new Set<string>();
    for (const key of keys) {
      const id = keyIdOf(keyTextsOf(storage, key));
      if (seen.has(id)) throw new UniqueViolationError(index.table.name, key, index.name);
      seen.add(id);
    }
    if (keys.length === 0) return;
    const found = await this.getMany(index.storage, keys);
    if (found.length > 0) throw new UniqueViolationError(index.table.name, index.columns.map((c) => found[0]![c.key]), index.name);
  }

  /**
   * Committed rows of `table` (index-writes.ts's before-images): neither own
   * writes nor locked images; at start_ts, or (`newest`, keys this
   * transaction locked, which nobody can commit meanwhile) at a fresh timestamp.
   */
  private async readCommitted(table: TableMeta, keys: readonly KeyValues[], newest: boolean): Promise<Row[]> {
    const readTs = newest ? await this.locks.forUpdateTs() : this.startTs;
    const storage = this.storageFor(table);
    const mapVersion = this.ctx.placement.map.version;
    const byShard = new Map<number, KeyTexts[]>();
    for (const key of keys) {
      const texts = keyTextsOf(storage, key);
      const shard = this.ctx.placement.shardOfKey(table, texts);
      byShard.set(shard, [...(byShard.get(shard) ?? []), texts]);
    }
    const results = await Promise.all([...byShard].map(([shard, shardKeys]) => this.reads.committedPointRead(storage, shard, shardKeys, mapVersion, readTs)));
    return results.flatMap((r) => r.rows);
  }

  async commit(): Promise<{ commitTs: Timestamp | undefined }> {
    this.ensureOpen();
    this.state = 'committing';
    this.deadline.clear();
    try {
      // Index entries of every row written, before the buffer is split into shards.
      await this.indexWrites.syncAll().catch(async (error: unknown) => {
        await this.locks.release();
        throw error;
      });
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
        pessimisticallyLocked: (table, keyId) => this.locks.image(table, keyId) !== undefined,
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

  private candidatesThrough(table: TableMeta, storage: TableStorage, through: IndexCandidates): CandidateSource {
    const entries = this.storageFor(through.index.storage);
    return indexCandidates(this.ctx, this.reads, this.recordsReads ? this.readSet : undefined, storage, entries, through, () => this.indexWrites.sync(table));
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
