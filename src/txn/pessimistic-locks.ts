import { slotOfKey } from '../shard/shard-of.js';
import type { Logger } from '../logger.js';
import { LockWaitTimeoutError, TransactionAbortedError } from '../errors.js';
import { timestampFor } from '../oracle/timestamp-for.js';
import { fromDriverValue, toDriverText } from '../shard/driver-values.js';
import { PessimisticLockStatements, type LockKeyRow, type LockReadShape } from '../shard/pessimistic-lock-statements.js';
import type { KeyTexts } from '../shard/key-text.js';
import type { TableStorage } from '../shard/table-storage.js';
import { formatTimestamp, type Timestamp } from '../timestamp.js';
import type { EngineContext } from './engine-context.js';
import type { Row } from './engine-contract.js';
import { Heartbeat } from './heartbeat.js';
import type { FoundLock } from './found-lock.js';
import { keyIdOf, type Mutation } from './mutation.js';
import { LockWaiter } from './pessimistic-lock-wait.js';
import { isPostgresAbort } from '../shard/shard-errors.js';

/** One key a locking read now holds. */
export interface LockedKey {
  readonly keyTexts: KeyTexts;
  readonly shard: number;
  /** The newest image (our own buffered write, else the newest committed version), if the row exists and matches the filter. */
  readonly row: Row | undefined;
  /** Read at: for_update_ts, or the newest version's commit_ts if it committed after for_update_ts was drawn. */
  readonly readTs: Timestamp;
}

/**
 * The pessimistic locks of one transaction (TiKV's pessimistic
 * transactions over the locks table): lock rows with op 'lock' and
 * for_update = true, taken by locking reads before commit.
 *
 * Invariants kept here:
 *  1. The first key ever locked is the transaction's primary, and it is
 *     locked alone, before any other key: every other lock row points to a
 *     primary lock we already hold, so a resolver judging any of our locks
 *     finds the primary alive (heartbeated from that moment on).
 *  2. The committer reuses that primary (prewritten as a lock-only key if
 *     it was not written), so the primary lock never leaves the table
 *     between the locking read and the commit point.
 *  3. Lock-only rows are deleted at the end, whatever the outcome
 *     (releaseLockOnly); prewritten ones are upgraded in place by prewrite
 *     (for_update = false) and left to commit or rollback. No rollback
 *     marker is needed for a pessimistic-only lock: this transaction never
 *     prewrites after releasing (it is closed), and a late prewrite of a
 *     transaction that was resolved away finds the marker the resolver
 *     wrote on its primary.
 */
export class PessimisticLocks {
  private primaryLock: Mutation | undefined;
  private lockingPrimary: Promise<unknown> | undefined;
  private heartbeat: Heartbeat | undefined;
  private readonly touched = new Map<string, { shard: number; storage: TableStorage }>();
  /** Newest images of the keys locked, by table then key: the transaction's later reads see these instead of its snapshot's. */
  private readonly images = new Map<string, Map<string, Mutation>>();
  /** Set when the transaction timed out: nothing may stay locked, and locking fails with it. */
  private closedBy: Error | undefined;

  constructor(
    private readonly ctx: EngineContext,
    private readonly startTs: Timestamp,
    private readonly logger: Logger,
  ) {}

  /** The transaction's primary, once a key is locked. */
  get primary(): Mutation | undefined {
    return this.primaryLock;
  }

  get holdsLocks(): boolean {
    return this.touched.size > 0;
  }

  /** Images of locked keys of a table on a shard (merged into the transaction's reads like its own writes). */
  imagesOn(table: string, shard: number): Mutation[] {
    const byKey = this.images.get(table);
    return byKey ? [...byKey.values()].filter((m) => m.shard === shard) : [];
  }

  /** Whether this transaction locked keys of a table (their images are newer than its snapshot). */
  hasImagesOf(table: string): boolean {
    return (this.images.get(table)?.size ?? 0) > 0;
  }

  /** The newest image of one locked key, if this transaction locked it. */
  image(table: string, keyId: string): Mutation | undefined {
    return this.images.get(table)?.get(keyId);
  }

  /** A fresh timestamp to read the newest committed versions at. */
  forUpdateTs(): Promise<Timestamp> {
    return timestampFor(this.ctx.timestampSource, 'for_update');
  }

  /**
   * Locks `keys` (any key of a shard at once: one statement per shard, shards
   * in parallel), waiting for other holders up to `waitMs`
   * (LockWaitTimeoutError) and failing with DeadlockError when this
   * transaction is the youngest in a cycle of waits.
   */
  async lock(storage: TableStorage, keysByShard: ReadonlyMap<number, readonly KeyTexts[]>, shapeOf: (shard: number) => LockReadShape, forUpdateTs: Timestamp, waitMs: number): Promise<LockedKey[]> {
    if (this.closedBy) throw this.closedBy;
    const locked = await this.lockNow(storage, keysByShard, shapeOf, forUpdateTs, waitMs).catch((error: unknown) => {
      if (!this.closedBy) throw error;
      return undefined;
    });
    // Timed out while locking: what the read took meanwhile goes too.
    if (this.closedBy) {
      await this.release();
      throw this.closedBy;
    }
    return locked!;
  }

  /** The transaction timed out: releases every lock-only row; later locking reads fail with `error`. */
  expire(error: Error): Promise<void> {
    this.closedBy = error;
    return this.release();
  }

  private async lockNow(storage: TableStorage, keysByShard: ReadonlyMap<number, readonly KeyTexts[]>, shapeOf: (shard: number) => LockReadShape, forUpdateTs: Timestamp, waitMs: number): Promise<LockedKey[]> {
    let entries = [...keysByShard].filter(([, keys]) => keys.length > 0).map(([shard, keys]) => [shard, sortedKeys(keys)] as const);
    if (entries.length === 0) return [];
    const waiter = new LockWaiter(this.ctx, this.startTs, () => this.primaryLock, waitMs);
    try {
      const locked: LockedKey[] = [];
      // Two locking reads of one transaction at once: the second waits until the first has chosen the primary.
      if (!this.primaryLock && this.lockingPrimary) await this.lockingPrimary.catch(() => undefined);
      if (!this.primaryLock) {
        const [shard, keys] = entries[0]!;
        const first = keys[0]!;
        this.primaryLock = { storage, keyId: keyIdOf(first), key: first, keyTexts: first, slot: slotOfKey(storage.meta, first), shard, op: 'lock', isInsert: false };
        const work = this.lockShard(storage, shard, [first], shapeOf(shard), forUpdateTs, waiter);
        this.lockingPrimary = work;
        try {
          locked.push(...(await work));
        } catch (error) {
          // Timed out waiting for the primary's key: nothing is held, a later locking read chooses again.
          if (error instanceof LockWaitTimeoutError && this.touched.size === 1) {
            this.primaryLock = undefined;
            this.touched.clear();
          }
          throw error;
        } finally {
          this.lockingPrimary = undefined;
        }
        this.heartbeat = new Heartbeat(this.ctx, this.startTs, this.primaryLock);
        if (!this.closedBy) this.heartbeat.start();
        entries = entries.map(([s, ks]) => [s, s === shard ? ks.slice(1) : ks] as const).filter(([, ks]) => ks.length > 0);
      }
      const rest = await Promise.all(entries.map(([shard, keys]) => this.lockShard(storage, shard, keys, shapeOf(shard), forUpdateTs, waiter)));
      await waiter.finish();
      return [...locked, ...rest.flat()];
    } catch (error) {
      await waiter.finish(error);
      throw error;
    }
  }

  /** This transaction committed or rolled back: wake this engine's locking reads waiting for it. */
  ended(): void {
    this.ctx.lockWakeups.ended(this.startTs);
  }

  /** Whether some locked key is neither written (`isWritten`) nor the primary: it has a lock-only row to release after commit. */
  hasLockOnlyKeys(isWritten: (table: string, keyId: string) => boolean): boolean {
    for (const [table, byKey] of this.images) {
      for (const keyId of byKey.keys()) {
        if (!isWritten(table, keyId) && !(table === this.primaryLock?.storage.meta.name && keyId === this.primaryLock.keyId)) return true;
      }
    }
    return false;
  }

  /** The committer takes over the primary's heartbeat. */
  handOver(): void {
    this.heartbeat?.stop();
    this.heartbeat = undefined;
  }

  /** Deletes our lock-only rows on every (shard, table) we locked on; idempotent, best effort (leftovers expire with the primary). */
  async release(): Promise<void> {
    this.handOver();
    const touched = [...this.touched.values()];
    this.touched.clear();
    await Promise.all(
      touched.map(async ({ shard, storage }) => {
        try {
          await this.ctx.shards[shard]!.query(new PessimisticLockStatements(storage).releaseLockOnly(this.startTs), { prepare: true, lazy: true });
        } catch (error) {
          this.logger.warn({ shard, err: error }, 'releasing pessimistic locks failed; they expire with the primary lock');
        }
      }),
    );
  }

  private async lockShard(storage: TableStorage, shard: number, keys: readonly KeyTexts[], shape: LockReadShape, forUpdateTs: Timestamp, waiter: LockWaiter): Promise<LockedKey[]> {
    const pool = this.ctx.shards[shard]!;
    const statements = new PessimisticLockStatements(storage);
    const primary = this.primaryLock!;
    this.touched.set(`${shard}\u0000${storage.meta.name}`, { shard, storage });
    const done: LockedKey[] = [];
    let pending = keys;
    let resolvedAt = 0;
    for (let attempt = 0; ; attempt++) {
      const statement = statements.lockKeys(this.startTs, forUpdateTs, primary.storage.meta.name, primary.keyTexts, this.ctx.lockTtlMs, pending, shape);
      let rows: LockKeyRow[];
      try {
        // lazy (no wait for the WAL flush): a lock lost in a shard crash only makes our prewrite insert a fresh
        // lock, checked from start_ts, and serializable validation checks from for_update_ts: nothing rests on it.
        rows = (await pool.query<LockKeyRow>(statement, { prepare: true, lazy: true })).rows;
      } catch (error) {
        if (!isPostgresAbort(error)) throw error;
        // Two lock statements of one shard waiting on each other's inserts: Postgres picked us; try again.
        rows = pending.map((_, i) => ({ __i: i, __status: 'retry' }) as LockKeyRow);
      }
      const blocked: FoundLock[] = [];
      const again: KeyTexts[] = [];
      for (const raw of rows) {
        const keyTexts = pending[raw.__i]!;
        if (raw.__status === 'ok') done.push(this.lockedKey(storage, shard, keyTexts, raw, forUpdateTs));
        else if (raw.__status === 'retry') again.push(keyTexts);
        else if (raw.__status === 'locked') {
          blocked.push({
            storage,
            shard,
            keyTexts,
            startTs: BigInt(raw.__holder!),
            primaryTable: raw.__holder_table!,
            primaryKey: raw.__holder_key!,
            expired: raw.__expired === true,
          });
        } else {
          throw new TransactionAbortedError(`transaction ${formatTimestamp(this.startTs)} was rolled back by another client (its locks' TTL ran out) before it could lock ${storage.meta.name} key ${JSON.stringify(keyTexts)}`);
        }
      }
      if (blocked.length === 0 && again.length === 0) return done;
      pending = sortedKeys([...blocked.map((l) => l.keyTexts), ...again]);
      if (blocked.length > 0) {
        // The lock statement itself sees a holder go (commit or rollback); only a crashed holder needs
        // resolution, so the holders' status is asked at the first meeting and then every RESOLVE_INTERVAL_MS.
        let alive = blocked;
        if (Date.now() - resolvedAt >= RESOLVE_INTERVAL_MS) {
          alive = (await this.ctx.resolver.resolveLocks(blocked)).alive;
          resolvedAt = Date.now();
        }
        if (alive.length > 0 && (await waiter.wait(alive, attempt))) resolvedAt = 0;
      } else {
        await waiter.pause(storage.meta.name, again[0], attempt);
      }
    }
  }

  private lockedKey(storage: TableStorage, shard: number, keyTexts: KeyTexts, raw: LockKeyRow, forUpdateTs: Timestamp): LockedKey {
    const row: Row = {};
    for (const c of storage.meta.columns) row[c.key] = fromDriverValue(c, raw[c.name]);
    const exists = raw.__op === 'put';
    const keyId = keyIdOf(keyTexts);
    const image: Mutation = {
      storage,
      keyId,
      key: storage.pk.map((c) => row[c.key]),
      keyTexts,
      slot: slotOfKey(storage.meta, keyTexts),
      shard,
      op: exists ? 'put' : 'del',
      isInsert: false,
      row: exists ? row : undefined,
      valueTexts: exists ? storage.valueColumns.map((c) => toDriverText(c, row[c.key])) : undefined,
    };
    let byKey = this.images.get(storage.meta.name);
    if (!byKey) this.images.set(storage.meta.name, (byKey = new Map()));
    byKey.set(keyId, image);
    const commitTs = raw.__commit_ts === null ? 0n : BigInt(raw.__commit_ts);
    return { keyTexts, shard, row: raw.__match ? row : undefined, readTs: commitTs > forUpdateTs ? commitTs : forUpdateTs };
  }
}

const RESOLVE_INTERVAL_MS = 100;

/** Keys of one statement in a fixed order, so concurrent lock statements of a shard insert in the same order. */
function sortedKeys(keys: readonly KeyTexts[]): KeyTexts[] {
  return [...keys].sort((a, b) => {
    const x = keyIdOf(a);
    const y = keyIdOf(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}
