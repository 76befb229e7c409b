import { LockWaitTimeoutError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ShardPool } from '../shard/shard-pool.js';
import { shardOfKey } from '../shard/shard-of.js';
import type { KeyTexts } from '../shard/key-text.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { Timestamp } from '../timestamp.js';
import type { EngineMetrics } from './engine-metrics.js';
import type { FoundLock } from './found-lock.js';
import { groupBy } from './group-by.js';
import { setBounded } from './bounded-map.js';
import type { LocalCommits } from './local-commits.js';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { isFinal, type TxnStatus } from './txn-status.js';
import { isPostgresAbort } from '../shard/shard-errors.js';
import type { TableDirectory } from './table-directory.js';
import { mergeVerdicts, ROWS_STAND, within, type ReadVerdict } from './read-verdict.js';

export interface LockResolverOptions {
  shards: readonly ShardPool[];
  /** Registered tables and the shards' catalogue: the storage of any transaction's primary table. */
  tables: TableDirectory;
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
 * primary key. The decision is taken in one local transaction at the
 * primary's shard that holds the primary's lock slot (row lock), so that
 * concurrent resolvers, L's own commitPrimary and L's late prewrite of the
 * primary all serialize on that row and agree on one outcome:
 *   1. a version of the primary with start_ts = L: committed at its commit_ts;
 *   2. a rollback marker for L, or no lock and the caller's lock expired:
 *      rolled back (a marker is written if missing, so L can never commit);
 *   3. L's primary lock with its TTL run out: delete it, write the marker,
 *      rolled back;
 *   4. otherwise alive.
 * Secondaries are then rolled forward (committed) or back, batched per shard.
 * A read-only peek at the primary comes first: a version (final) or a live
 * lock answers without the locked transaction, so readers of busy keys do
 * not hold up the owner's commitPrimary.
 */
export class LockResolver {
  private readonly cache = new Map<string, TxnStatus>();
  /**
   * Transactions whose primary lock this process pushed: they can only
   * commit at or above the remembered min_commit_ts (it never decreases), so
   * a reader below it reads past their locks without asking again.
   */
  private readonly pushed = new Map<string, Timestamp>();
  private readonly cacheSize: number;
  private readonly localOwnerWaitMs: number;

  constructor(private readonly options: LockResolverOptions) {
    this.cacheSize = options.cacheSize ?? 8192;
    this.localOwnerWaitMs = options.localOwnerWaitMs ?? LOCAL_OWNER_WAIT_MS;
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
    const shard = this.options.shards[shardOfKey(storage.meta, primaryKey, this.options.shards.length)]!;
    // Fast path, one read-only statement: final outcomes and live locks need no row lock.
    const peek = peeked ?? (await shard.query<PrimaryPeek>(storage.peekPrimary(startTs, primaryKey), { prepare: true })).rows[0]!;
    if (peek.version_op !== null) {
      const final: TxnStatus = peek.version_op === 'rollback' ? { kind: 'rolled-back' } : { kind: 'committed', commitTs: BigInt(peek.commit_ts!) };
      this.remember(startTs, final);
      return final;
    }
    if (peek.locked && !peek.expired) return { kind: 'alive', ttlRemainingMs: peek.remaining_ms ?? 0 };
    if (!peek.locked && !rollbackIfNotExist) return { kind: 'alive', ttlRemainingMs: 0 };
    // Expired, or never written: decide under the primary slot's row lock.
    const status = await shard.transaction(async (client): Promise<TxnStatus> => {
      const slot = (await shard.query<{ start_ts: string; op: string; inserted: boolean; expired: boolean; remaining_ms: number }>(
        storage.lockPrimarySlot(startTs, primaryKey),
        { client, prepare: true },
      )).rows[0]!;
      const ownsSlot = !slot.inserted && BigInt(slot.start_ts) === startTs;
      if (ownsSlot) {
        if (!slot.expired) return { kind: 'alive', ttlRemainingMs: slot.remaining_ms };
        await shard.query(storage.deleteLock(startTs, primaryKey), { client, prepare: true });
        await shard.query(storage.writeRollbackMarker(startTs, primaryKey), { client, prepare: true });
        return { kind: 'rolled-back' };
      }
      if (slot.inserted) await shard.query(storage.deleteLock(startTs, primaryKey), { client, prepare: true });
      const version = (await shard.query<{ commit_ts: string; op: string }>(storage.versionByStartTs(startTs, primaryKey), { client, prepare: true })).rows[0];
      if (version && version.op !== 'rollback') return { kind: 'committed', commitTs: BigInt(version.commit_ts) };
      if (version) return { kind: 'rolled-back' };
      if (!rollbackIfNotExist) return { kind: 'alive', ttlRemainingMs: 0 };
      // L's primary was never prewritten (or is being prewritten right now and
      // will find this marker in its conflict check): L can never commit.
      await shard.query(storage.writeRollbackMarker(startTs, primaryKey), { client, prepare: true });
      return { kind: 'rolled-back' };
    });
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
    const pushed = pushTo === undefined ? new Map<string, PushOutcome>() : await this.pushPrimaries([...byTxn.values()].map((l) => l[0]!), pushTo);
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
        await this.applyStatus(first.startTs, status, txnLocks);
      }),
    );
    return { alive, waitMs: Number.isFinite(waitMs) ? waitMs : 0, committed };
  }

  /**
   * Pushes live owners' primary locks to commit at or above `minCommitTs`:
   * one statement per (primary shard, table), in parallel. Per transaction
   * id (start_ts): 'pushed' (now or before), or what the statement saw at
   * a primary it could not push (its lock gone, expired or a placeholder).
   */
  private async pushPrimaries(locks: readonly FoundLock[], minCommitTs: Timestamp): Promise<Map<string, PushOutcome>> {
    const outcomes = new Map<string, PushOutcome>();
    const groups = new Map<string, { shard: ShardPool; storage: TableStorage; primaries: { startTs: Timestamp; key: KeyTexts }[] }>();
    for (const lock of locks) {
      const id = lock.startTs.toString();
      if ((this.pushed.get(id) ?? 0n) >= minCommitTs) {
        outcomes.set(id, 'pushed');
        continue;
      }
      const storage = await this.options.tables.primaryStorage(lock.primaryTable, lock.shard, lock.startTs);
      const shardIndex = shardOfKey(storage.meta, lock.primaryKey, this.options.shards.length);
      const groupId = `${shardIndex}\u0000${lock.primaryTable}`;
      const group = groups.get(groupId) ?? { shard: this.options.shards[shardIndex]!, storage, primaries: [] };
      group.primaries.push({ startTs: lock.startTs, key: lock.primaryKey });
      groups.set(groupId, group);
    }
    await Promise.all(
      [...groups.values()].map(async ({ shard, storage, primaries }) => {
        let rows: (PrimaryPeek & { start_ts: string; pushed: boolean })[];
        try {
          ({ rows } = await shard.query<PrimaryPeek & { start_ts: string; pushed: boolean }>(storage.pushPrimaries(minCommitTs, primaries), { prepare: true }));
        } catch (error) {
          // A prewrite's ON CONFLICT locks other transactions' lock rows in its own key
          // order: Postgres may pick this push as a deadlock victim. Nothing was pushed;
          // each owner is then looked at afresh (and waited for if alive).
          if (!isPostgresAbort(error)) throw error;
          return;
        }
        for (const row of rows) {
          if (!row.pushed) {
            // A live lock we could not push went away while we waited for its row
            // (commitPrimary), after this statement's snapshot: only a fresh peek can tell.
            if (!row.locked || row.expired) outcomes.set(row.start_ts, row);
            continue;
          }
          outcomes.set(row.start_ts, 'pushed');
          setBounded(this.pushed, row.start_ts, minCommitTs, this.cacheSize);
        }
      }),
    );
    return outcomes;
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
    const pending = locks.filter((l) => (this.pushed.get(l.startTs.toString()) ?? 0n) <= readTs);
    if (pending.length === 0) return { kind: 'rows-stand' };
    const local: FoundLock[] = [];
    const remote: FoundLock[] = [];
    for (const lock of pending) (this.options.localCommits?.get(lock.startTs) ? local : remote).push(lock);
    if (local.length === 0) return this.pushForRead(pending, readTs, startedAt, deadline, attempt);
    const verdicts = await Promise.all([
      this.awaitLocalOwners(local, readTs, readSentAt, Math.min(this.localOwnerWaitMs, deadline - Date.now())),
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

  /**
   * Locks of commits in flight in this process (local-commits.ts): waits up
   * to `budgetMs` for each owner's outcome instead of pushing it (and as
   * long again for the versions of an owner that committed; if one of its
   * secondary commits failed, resolvers roll those keys forward). Committed
   * above readTs or rolled back: the rows read stand. Committed at or below
   * readTs: once its versions are written, its keys are read again. An
   * owner undecided in time (or undetermined) is returned for the push path.
   */
  private async awaitLocalOwners(
    locks: readonly FoundLock[],
    readTs: Timestamp,
    readSentAt: number,
    budgetMs: number,
  ): Promise<{ verdict: ReadVerdict; undecided: FoundLock[] }> {
    const byOwner = groupBy(locks, (lock) => lock.startTs);
    const undecided: FoundLock[] = [];
    const readAgain: KeyTexts[] = [];
    const deadline = performance.now() + Math.max(0, budgetMs);
    await Promise.all(
      [...byOwner].map(async ([owner, ownerLocks]) => {
        const commit = this.options.localCommits!.get(owner);
        // Its lock outlived a commit that had settled before this read was sent: that secondary commit was lost (a shard restart).
        const lost = commit?.settledAt !== undefined && commit.settledAt < readSentAt;
        const outcome = commit && !lost ? await within(commit.decided, deadline) : undefined;
        if (outcome?.kind === 'rolled-back' || (outcome?.kind === 'committed' && outcome.commitTs > readTs)) {
          this.options.metrics.lockResolutions.inc({ outcome: 'awaited' }, ownerLocks.length);
          return;
        }
        // Its versions follow in one statement per shard: a fresh budget for them.
        if (outcome?.kind === 'committed' && commit && (await within(commit.settled.then(() => commit.allWritten), performance.now() + this.localOwnerWaitMs))) {
          this.options.metrics.lockResolutions.inc({ outcome: 'awaited' }, ownerLocks.length);
          readAgain.push(...ownerLocks.map((l) => l.keyTexts));
          return;
        }
        undecided.push(...ownerLocks);
      }),
    );
    return { verdict: readAgain.length > 0 ? { kind: 'read-keys-again', keys: readAgain } : ROWS_STAND, undecided };
  }

  /**
   * Resolves `locks`, waiting (with backoff) while their owners are alive,
   * until `deadline` (ms since epoch); then LockWaitTimeoutError.
   */
  async resolveOrWait(locks: readonly FoundLock[], startedAt: number, deadline: number, attempt: number): Promise<void> {
    const { alive, waitMs } = await this.resolveLocks(locks);
    if (alive.length === 0) return;
    await this.waitOrTimeOut(alive, waitMs, startedAt, deadline, attempt);
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

  private async applyStatus(startTs: Timestamp, status: TxnStatus, locks: readonly FoundLock[]): Promise<void> {
    const groups = groupBy(locks, (lock) => `${lock.shard}\u0000${lock.storage.meta.name}`);
    await Promise.all(
      [...groups.values()].map(async (group) => {
        const { shard, storage } = group[0]!;
        const keys = group.map((l) => l.keyTexts);
        const statement =
          status.kind === 'committed'
            ? storage.commitKeys(startTs, status.commitTs, keys)
            : storage.rollbackKeys(startTs, keys, keys.map(() => true));
        // Rolling forward or back is idempotent; the owner (or another resolver) may be doing the
        // same keys in another order, and Postgres then aborts one of us: run it again.
        const began = Date.now();
        for (let attempt = 0; ; attempt++) {
          try {
            await this.options.shards[shard]!.query(statement, { prepare: true });
            return;
          } catch (error) {
            if (!isPostgresAbort(error)) throw error;
            // Still busy after three tries (each up to the 1 s lock timeout): someone holds these rows; a retry may succeed.
            if (attempt >= 2) throw new LockWaitTimeoutError(storage.meta.name, keys[0], startTs, Date.now() - began);
          }
        }
      }),
    );
    this.options.logger.debug({ lockTs: startTs.toString(), outcome: status.kind, keys: locks.length }, 'resolved locks');
  }

  /** A final status learnt elsewhere (this process's own commits): later checks need no statement. */
  remember(startTs: Timestamp, status: TxnStatus): void {
    setBounded(this.cache, startTs.toString(), status, this.cacheSize);
  }
}

/** What one look at a transaction's primary shows: its version (by start_ts) and its lock. */
interface PrimaryPeek {
  commit_ts: string | null;
  version_op: string | null;
  locked: boolean;
  expired: boolean | null;
  remaining_ms: number | null;
}

type PushOutcome = 'pushed' | PrimaryPeek;

/**
 * Default of how long a reader waits for a commit of its own process to
 * decide before pushing it like any other: commits take milliseconds, a
 * longer one is waiting on a slow shard or the oracle.
 */
const LOCAL_OWNER_WAIT_MS = 250;
