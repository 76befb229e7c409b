import { performance } from 'node:perf_hooks';
import { InvalidInputError } from '../errors.js';
import { SlotFilterNeededError } from '../shard/slot-filter-needed.js';
import type { KeyTexts } from '../shard/key-text.js';
import { hasStableKeyText } from '../shard/key-text.js';
import { buildPointRead } from '../shard/point-read-statements.js';
import type { ShardPool } from '../shard/shard-pool.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { Timestamp } from '../timestamp.js';
import type { EngineContext } from './engine-context.js';
import type { JoinRequest, ProjectionRequest, ScanRequest } from './engine-contract.js';
import { runJoinRead, type JoinShardResult } from './join-read.js';
import type { FoundLock } from './found-lock.js';
import { keyIdOf, type Mutation } from './mutation.js';
import type { PessimisticLocks } from './pessimistic-locks.js';
import { runProjectedRead, type ProjectedShardResult } from './projected-read.js';
import { rowKeyTexts, runRead, runSnapshotRead, type ShardReadResult } from './snapshot-read.js';
import type { WriteBuffer } from './write-buffer.js';

/**
 * One transaction's reads of single shards at its start_ts: filtered scans
 * and point reads, its own buffered writes and the images its locking reads
 * locked merged in, each run again until no lock it met stands in its way
 * (resolved, pushed past the snapshot, or timed out). Reads go to the
 * shards' primaries, or, given `standby`, each to a standby of its shard
 * caught up with the primary (standby-pools.ts); locks met are resolved on
 * the primaries either way.
 */
export class ShardReads {
  constructor(
    private readonly ctx: EngineContext,
    private readonly startTs: Timestamp,
    private readonly buffer: WriteBuffer,
    private readonly locks: PessimisticLocks,
    private readonly standby?: (shard: number) => Promise<ShardPool>,
  ) {}

  /** Point reads of keys on one shard (one statement), this transaction's own writes and locked images included. */
  pointRead(storage: TableStorage, shard: number, keys: Iterable<KeyTexts>, mapVersion: bigint): Promise<ShardReadResult> {
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
    if (stored.length === 0 && bufferedPuts.length === 0) return Promise.resolve({ rows: [], locks: [] }); // all deleted by us
    const request = { storage, readTs: this.startTs, ownStartTs: this.startTs, mapVersion, keys: stored, bufferedPuts };
    // Without buffered images, the read can share a statement with other transactions' (point-read.ts).
    if (bufferedPuts.length === 0 && !this.standby) return this.readShard(shard, () => this.ctx.pointReads.submit(this.pool(shard), request));
    return this.readShard(shard, async () => runRead(await this.readPool(shard), storage, this.startTs, buildPointRead(request)));
  }

  /** Point reads of committed rows only (at start_ts unless told), neither own writes nor locked images merged (index-writes.ts: rows' images before the transaction). */
  committedPointRead(storage: TableStorage, shard: number, keys: readonly KeyTexts[], mapVersion: bigint, readTs: Timestamp = this.startTs): Promise<ShardReadResult> {
    const request = { storage, readTs, ownStartTs: this.startTs, mapVersion, keys, bufferedPuts: [] };
    if (this.standby) return this.readShard(shard, async () => runRead(await this.readPool(shard), storage, readTs, buildPointRead(request)));
    return this.readShard(shard, () => this.ctx.pointReads.submit(this.pool(shard), request));
  }

  /**
   * A filtered read of one shard: one statement, buffered writes merged in SQL; at start_ts unless told (a locking read's for-update timestamp).
   * `mapVersion`: the reader's placement map version, the same for every shard of one statement.
   */
  scan(storage: TableStorage, shard: number, query: ScanRequest, mapVersion: bigint, readTs: Timestamp = this.startTs): Promise<ShardReadResult> {
    const request = {
      storage,
      readTs,
      ownStartTs: this.startTs,
      mapVersion,
      where: query.where,
      orderBy: query.orderBy,
      limit: query.limit,
      distinctOn: query.distinctOn,
      buffered: this.viewOnShard(storage.meta.name, shard),
    };
    // A whole-table read (no filter, order or limit: an audit) that meets locks of owners
    // that turn out committed inside its snapshot re-reads only their keys, not the shard.
    const partial = !query.where && !query.orderBy?.length && query.limit === undefined && readTs === this.startTs && storage.pk.every(hasStableKeyText);
    return this.readShard(
      shard,
      () => withSlotFilter(async (slotFilter) => runSnapshotRead(await this.readPool(shard), { ...request, slotFilter })),
      partial ? async (result, keys) => replaceKeys(storage, result, keys, await this.pointRead(storage, shard, keys, mapVersion)) : undefined,
      readTs,
    );
  }

  /** Expressions over the rows a scan with the same filter reads (projected-read.ts): one statement, locks resolved as for a scan. */
  project(storage: TableStorage, shard: number, query: ProjectionRequest, mapVersion: bigint): Promise<ProjectedShardResult> {
    const request = {
      ...query,
      assignTo: query.assignTo?.map((column) => column?.sqlType),
      storage,
      readTs: this.startTs,
      ownStartTs: this.startTs,
      mapVersion,
      buffered: this.viewOnShard(storage.meta.name, shard),
    };
    return this.readShard(shard, () => withSlotFilter(async (slotFilter) => runProjectedRead(await this.readPool(shard), { ...request, slotFilter })));
  }

  /** A join of colocated tables on one shard (join-read.ts): one statement, locks of every table resolved as for a scan. */
  join(storages: readonly TableStorage[], shard: number, query: JoinRequest, mapVersion: bigint): Promise<JoinShardResult> {
    const request = {
      tables: query.tables.map((table, t) => ({ storage: storages[t]!, join: table.join, lockFilter: table.filter, buffered: this.viewOnShard(table.table.name, shard) })),
      readTs: this.startTs,
      ownStartTs: this.startTs,
      mapVersion,
      where: query.where,
      orderBy: query.orderBy,
      limit: query.limit,
    };
    return this.readShard(shard, () => withSlotFilter(async (slotFilter) => runJoinRead(await this.readPool(shard), { ...request, slotFilter })));
  }

  /** Runs a read until no lock it met stands in its way (resolved, pushed past our snapshot, or timed out). */
  private async readShard<R extends { locks: FoundLock[] }>(
    shard: number,
    read: () => Promise<R>,
    /** Reads `keys` again and puts what it found in their place in `result`. */
    readAgain?: (result: R, keys: KeyTexts[]) => Promise<R>,
    readTs: Timestamp = this.startTs,
  ): Promise<R> {
    const startedAt = Date.now();
    const deadline = startedAt + this.ctx.lockWaitTimeoutMs;
    let sentAt = performance.now();
    let result = await read();
    for (let attempt = 0; ; attempt++) {
      if (result.locks.length === 0) return result;
      const verdict = await this.ctx.resolver.resolveForRead(result.locks, readTs, sentAt, startedAt, deadline, attempt);
      if (verdict.kind === 'rows-stand') return { ...result, locks: [] };
      sentAt = performance.now();
      // Keys read again may meet new locks (or one whose roll-forward was lost): the loop looks at those.
      if (verdict.kind === 'read-keys-again' && readAgain) result = await readAgain(result, verdict.keys);
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

  /** Where a read of this shard runs: its primary, or a standby caught up with it (asked again for every read: a re-read after a lock's resolution must see it). */
  private readPool(shard: number): Promise<ShardPool> {
    return this.standby ? this.standby(shard) : Promise.resolve(this.pool(shard));
  }

  private pool(shard: number): ShardPool {
    const pool = this.ctx.shards[shard];
    if (!pool) throw new InvalidInputError(`shard index ${shard} out of range (0..${this.ctx.shards.length - 1})`);
    return pool;
  }
}

/**
 * Runs a read without the per-row slot filter, and again with it if the
 * shard holds rows of slots it did not own at the read's map version
 * (slot-read-filter.ts): only while slots move does a read cost two statements.
 */
export async function withSlotFilter<R>(read: (slotFilter: boolean) => Promise<R>): Promise<R> {
  try {
    return await read(false);
  } catch (error) {
    if (!(error instanceof SlotFilterNeededError)) throw error;
    return read(true);
  }
}

/** `result` with the rows of `keys` replaced by what `fresh` read of them (absent keys dropped), and only `fresh`'s locks. */
function replaceKeys(storage: TableStorage, result: ShardReadResult, keys: readonly KeyTexts[], fresh: ShardReadResult): ShardReadResult {
  const replaced = new Set(keys.map(keyIdOf));
  const rows = result.rows.filter((row) => !replaced.has(keyIdOf(rowKeyTexts(storage, row))));
  for (const row of fresh.rows) rows.push(row);
  return { rows, locks: fresh.locks };
}
