import { LockWaitTimeoutError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { KeyTexts } from '../shard/key-text.js';
import type { PrimaryPeek } from '../shard/primary-status-statements.js';
import type { Placement } from './placement.js';
import type { ShardPool } from '../shard/shard-pool.js';
import type { Timestamp } from '../timestamp.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { setBounded } from './bounded-map.js';
import type { EngineMetrics } from './engine-metrics.js';
import type { FoundLock } from './found-lock.js';
import { groupBy } from './group-by.js';
import type { LocalCommits } from './local-commits.js';
import { awaitLocalOwners } from './local-owner-wait.js';
import { PrimaryPushes, type PushOutcome } from './primary-pushes.js';
import { mergeVerdicts, ROWS_STAND, type ReadVerdict } from './read-verdict.js';
import { rollForwardOrBack } from './roll-forward-back.js';
import type { TableDirectory } from './table-directory.js';
import type { StoredColumns } from './stored-columns.js';
import { decideTxnStatus } from './txn-status-check.js';
import { isFinal, type TxnStatus } from './txn-status.js';

export interface LockResolverOptions {
  shards: readonly ShardPool[];
  /** Where a transaction's primary lives. */
  placement: Placement;
  /** Registered tables and the shards' catalogue: the storage of any transaction's primary table. */
  tables: TableDirectory;
  /** The columns each shard stores, for rolling locks forward (stored-columns.ts). */
  storedColumns: StoredColumns;
  logger: Logger;
  metrics: EngineMetrics;
  /** Resolved (final) statuses remembered, most recent first out last. */
  cacheSize?: number;
  /** Commits in flight in this process: their locks are waited for, not pushed. */
  localCommits?: LocalCommits;
  /** How long a reader waits for such a commit to decide, and then for its versions (default 250). */
  localOwnerWaitMs?: number;
}

/**
 * Lock resolution (DESIGN.md): a lock of transaction L is judged by L's
 * primary key (txn-status-check.ts decides L's status there), then L's
 * locks that were met are rolled forward (committed) or back, one statement
 * per (shard, table) (roll-forward-back.ts). A reader pushes live owners
 * instead (primary-pushes.ts) and waits for this process's own commits
 * (local-owner-wait.ts). Final statuses are cached.
 */
export class LockResolver {
  private readonly cache = new Map<string, TxnStatus>();
  private readonly pushes: PrimaryPushes;
  private readonly cacheSize: number;
  private readonly localOwnerWaitMs: number;

  constructor(private readonly options: LockResolverOptions) {
    this.cacheSize = options.cacheSize ?? 8192;
    this.localOwnerWaitMs = options.localOwnerWaitMs ?? LOCAL_OWNER_WAIT_MS;
    this.pushes = new PrimaryPushes(options.placement, options.tables, this.cacheSize);
  }

  /**
   * Status of transaction `startTs` whose primary is `primaryKey` of
   * `primaryTable`. `peeked`: what a push statement already saw at the
   * primary (spares the peek). `lockShard`: where the lock was met (its
   * catalogue describes the primary's table if this client does not know it).
   */
  async checkTxnStatus(primaryTable: string, primaryKey: KeyTexts, startTs: Timestamp, rollbackIfNotExist: boolean, peeked?: PrimaryPeek, lockShard = 0): Promise<TxnStatus> {
    const cached = this.cache.get(startTs.toString());
    if (cached) return cached;
    const storage = await this.options.tables.primaryStorage(primaryTable, lockShard, startTs);
    const shard = this.options.shards[this.options.placement.shardOfKey(storage.meta, primaryKey)]!;
    const status = await decideTxnStatus(shard, storage, primaryKey, startTs, rollbackIfNotExist, peeked);
    if (isFinal(status)) this.remember(startTs, status);
    return status;
  }

  /**
   * One resolution pass over `locks`: statuses of their transactions (one
   * status check per transaction), then roll forward / back in one statement
   * per (shard, table, transaction). Returns the locks still alive.
   */
  async resolveLocks(
    locks: readonly FoundLock[],
    pushTo?: Timestamp,
  ): Promise<{ alive: FoundLock[]; waitMs: number; committed: { lock: FoundLock; commitTs: Timestamp }[] }> {
    const byTxn = groupBy(locks, (lock) => lock.startTs.toString());
    const alive: FoundLock[] = [];
    let waitMs = Number.POSITIVE_INFINITY;
    // Locks of owners found committed, with their commit_ts: a reader at or above it reads those keys again.
    const committed: { lock: FoundLock; commitTs: Timestamp }[] = [];
    // Only the primary's TTL counts (secondaries get no heartbeat): the push itself refuses an expired primary.
    const pushed = pushTo === undefined ? new Map<string, PushOutcome>() : await this.pushes.push([...byTxn.values()].map((l) => l[0]!), pushTo);
    await Promise.all(
      [...byTxn].map(async ([id, txnLocks]) => {
        const push = pushed.get(id);
        if (push === 'pushed') {
          this.options.metrics.lockResolutions.inc({ outcome: 'pushed' }, txnLocks.length);
          return;
        }
        const first = txnLocks[0]!;
        const expired = txnLocks.some((l) => l.expired);
        const status = await this.checkTxnStatus(first.primaryTable, first.primaryKey, first.startTs, expired, push, first.shard);
        this.options.metrics.lockResolutions.inc({ outcome: status.kind }, txnLocks.length);
        if (status.kind === 'committed') for (const lock of txnLocks) committed.push({ lock, commitTs: status.commitTs });
        if (status.kind === 'alive') {
          alive.push(...txnLocks);
          waitMs = Math.min(waitMs, status.ttlRemainingMs);
          return;
        }
        await rollForwardOrBack(this.options.shards, this.options.storedColumns, this.options.logger, first.startTs, status, txnLocks);
      }),
    );
    return { alive, waitMs: Number.isFinite(waitMs) ? waitMs : 0, committed };
  }

  /**
   * Resolution for a snapshot read at `readTs` that met `locks`. A live
   * owner of this process is awaited briefly (awaitLocalOwners); any other
   * is not waited for: its primary's min_commit_ts is pushed past
   * readTs (one statement per primary shard), after which it can only
   * commit outside this snapshot. The verdict: the rows read alongside the
   * locks stand; or the keys of owners found committed at or below readTs
   * (rolled forward here) must be read again, the other rows stand; or,
   * when an owner could be neither decided nor pushed, this waited (with
   * backoff) and the whole read must run again. LockWaitTimeoutError after
   * `deadline`.
   */
  async resolveForRead(locks: readonly FoundLock[], readTs: Timestamp, readSentAt: number, startedAt: number, deadline: number, attempt: number): Promise<ReadVerdict> {
    const pending = locks.filter((l) => this.pushes.pushedTo(l.startTs) <= readTs);
    if (pending.length === 0) return { kind: 'rows-stand' };
    const local: FoundLock[] = [];
    const remote: FoundLock[] = [];
    for (const lock of pending) (this.options.localCommits?.get(lock.startTs) ? local : remote).push(lock);
    if (local.length === 0) return this.pushForRead(pending, readTs, startedAt, deadline, attempt);
    const verdicts = await Promise.all([
      awaitLocalOwners(this.options.localCommits!, this.options.metrics, local, readTs, readSentAt, Math.min(this.localOwnerWaitMs, deadline - Date.now()), this.localOwnerWaitMs),
      remote.length > 0 ? this.pushForRead(remote, readTs, startedAt, deadline, attempt) : ROWS_STAND,
    ]);
    const undecided = verdicts[0].undecided;
    const more = undecided.length > 0 ? await this.pushForRead(undecided, readTs, startedAt, deadline, attempt) : ROWS_STAND;
    return mergeVerdicts([verdicts[0].verdict, verdicts[1], more]);
  }

  /** The push path of resolveForRead, for owners of other processes (or of this one that did not decide in time). */
  private async pushForRead(pending: readonly FoundLock[], readTs: Timestamp, startedAt: number, deadline: number, attempt: number): Promise<ReadVerdict> {
    const { alive, waitMs, committed } = await this.resolveLocks(pending, readTs + 1n);
    if (alive.length > 0) {
      await this.waitOrTimeOut(alive, waitMs, startedAt, deadline, attempt);
      return { kind: 'read-again' };
    }
    const visible = committed.filter((c) => c.commitTs <= readTs).map((c) => c.lock.keyTexts);
    return visible.length === 0 ? ROWS_STAND : { kind: 'read-keys-again', keys: visible };
  }

  private async waitOrTimeOut(alive: readonly FoundLock[], waitMs: number, startedAt: number, deadline: number, attempt: number): Promise<void> {
    const now = Date.now();
    if (now >= deadline) {
      const lock = alive[0]!;
      throw new LockWaitTimeoutError(lock.storage.meta.name, lock.keyTexts, lock.startTs, now - startedAt);
    }
    const backoff = Math.min(2 ** attempt, 100);
    await sleep(Math.max(1, Math.min(backoff, waitMs + 1, deadline - now)));
  }

  /** A final status learnt elsewhere (this process's own commits): later checks need no statement. */
  remember(startTs: Timestamp, status: TxnStatus): void {
    setBounded(this.cache, startTs.toString(), status, this.cacheSize);
  }
}

/**
 * Default of how long a reader waits for a commit of its own process to
 * decide before pushing it like any other: commits take milliseconds, a
 * longer one is waiting on a slow shard or the oracle.
 */
const LOCAL_OWNER_WAIT_MS = 250;
