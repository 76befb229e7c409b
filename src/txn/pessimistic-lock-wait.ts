import { setTimeout as sleep } from 'node:timers/promises';
import { DeadlockError, LockWaitTimeoutError } from '../errors.js';
import { PessimisticLockStatements, type WaitEdgeRow } from '../shard/pessimistic-lock-statements.js';
import type { KeyTexts } from '../shard/key-text.js';
import { formatTimestamp, type Timestamp } from '../timestamp.js';
import type { EngineContext } from './engine-context.js';
import type { FoundLock } from './found-lock.js';
import type { Mutation } from './mutation.js';

/** Waits shorter than this never look for deadlocks (most waits end by themselves). */
const DEADLOCK_CHECK_DELAY_MS = 20;
/** Then the chain of waits is followed again at this interval while still waiting. */
const DEADLOCK_CHECK_INTERVAL_MS = 50;
/** Longest chain of waits followed; a longer cycle ends by lock wait timeout. */
const MAX_CHAIN = 8;
const MAX_BACKOFF_MS = 20;

/** A transaction as a node of the wait-for graph: its start ts and its primary (where its wait is recorded). */
interface WaitNode {
  readonly startTs: Timestamp;
  readonly table: string;
  readonly key: KeyTexts;
}

/**
 * One locking read's wait for other transactions' locks: polls with capped
 * exponential backoff, woken early when a holder of this process ends
 * (lock-wakeups.ts), until `deadline` (LockWaitTimeoutError), and finds
 * deadlocks. Deadlock detection (TiKV's detector, made distributed): a
 * waiter that holds locks records on its own primary lock whom it waits
 * for (that transaction and its primary). After a short delay, and then
 * periodically, it follows the records from holder to holder's holder; if
 * the chain comes back to itself, the members form a cycle, every one of
 * them is waiting and sees the same cycle, and the youngest (largest
 * start_ts) fails with DeadlockError, releasing its locks. Everyone
 * records before it looks, so the last member to record sees the whole
 * cycle; a waiter that holds no locks cannot be part of a cycle and does
 * not record. A stale record (its owner stopped waiting an instant ago) can
 * at worst make a transaction fail retryably; a cycle longer than
 * MAX_CHAIN ends by timeout.
 */
export class LockWaiter {
  private readonly startedAt = Date.now();
  private readonly deadline: number;
  private recorded: Timestamp | undefined;
  private nextCheck: number;
  private waited = false;

  constructor(
    private readonly ctx: EngineContext,
    private readonly startTs: Timestamp,
    private readonly primary: () => Mutation | undefined,
    waitMs: number,
  ) {
    this.deadline = this.startedAt + waitMs;
    this.nextCheck = this.startedAt + DEADLOCK_CHECK_DELAY_MS;
  }

  /**
   * One wait after meeting `alive` locks (attempt counts the waits of this
   * key set). True when a holder of this process ended meanwhile (look
   * again at once, and ask the resolver: its secondaries may still be
   * committing).
   */
  async wait(alive: readonly FoundLock[], attempt: number): Promise<boolean> {
    const now = Date.now();
    const lock = alive[0]!;
    this.waited = true;
    if (now >= this.deadline) throw new LockWaitTimeoutError(lock.storage.meta.name, lock.keyTexts, lock.startTs, now - this.startedAt);
    const primary = this.primary();
    if (primary) {
      if (this.recorded !== lock.startTs) await this.record(primary, lock);
      if (now >= this.nextCheck) {
        this.nextCheck = now + DEADLOCK_CHECK_INTERVAL_MS;
        await this.checkDeadlock(primary, lock);
      }
    }
    const backoff = Math.min(2 ** attempt, MAX_BACKOFF_MS);
    const holders = [...new Set(alive.map((l) => l.startTs))];
    return this.ctx.lockWakeups.sleep(holders, Math.max(1, Math.min(backoff, this.deadline - now)));
  }

  /**
   * A short pause before locking keys again whose slot was taken and freed
   * under our statement (or a Postgres deadlock between two lock
   * statements): no holder to wait for, but the deadline still holds.
   */
  async pause(table: string, key: unknown, attempt: number): Promise<void> {
    const now = Date.now();
    if (now >= this.deadline) throw new LockWaitTimeoutError(table, key, 0n, now - this.startedAt);
    await sleep(Math.max(1, Math.min(2 ** attempt, MAX_BACKOFF_MS, this.deadline - now)));
  }

  /** The wait is over (acquired or failed): count it, and clear our record so nobody follows a stale edge. */
  async finish(error?: unknown): Promise<void> {
    if (this.waited) {
      const outcome = error === undefined ? 'acquired' : error instanceof LockWaitTimeoutError ? 'timeout' : error instanceof DeadlockError ? 'deadlock' : 'error';
      this.ctx.metrics.lockWaits.inc({ outcome });
    }
    const primary = this.primary();
    if (this.recorded === undefined || !primary) return;
    this.recorded = undefined;
    const statement = new PessimisticLockStatements(primary.storage).clearWaitingFor(this.startTs, primary.keyTexts);
    await this.ctx.shards[primary.shard]!.query(statement, { prepare: true, lazy: true }).catch((error: unknown) =>
      this.ctx.logger.debug({ err: error }, 'clearing the wait record failed'),
    );
  }

  private async record(primary: Mutation, lock: FoundLock): Promise<void> {
    const statement = new PessimisticLockStatements(primary.storage).setWaitingFor(this.startTs, primary.keyTexts, lock.startTs, lock.primaryTable, lock.primaryKey);
    await this.ctx.shards[primary.shard]!.query(statement, { prepare: true, lazy: true });
    this.recorded = lock.startTs;
  }

  private async checkDeadlock(primary: Mutation, lock: FoundLock): Promise<void> {
    const cycle = [this.startTs];
    let next: WaitNode | undefined = { startTs: lock.startTs, table: lock.primaryTable, key: lock.primaryKey };
    for (let hop = 0; next && hop < MAX_CHAIN; hop++) {
      if (next.startTs === this.startTs) {
        const youngest = cycle.reduce((a, b) => (a > b ? a : b));
        this.ctx.logger.debug({ cycle: cycle.map(formatTimestamp), victim: formatTimestamp(youngest) }, 'deadlock found');
        if (youngest !== this.startTs) return;
        throw new DeadlockError(
          `deadlock: transaction ${formatTimestamp(this.startTs)} (locking ${primary.storage.meta.name} after ${Date.now() - this.startedAt} ms of waiting) is the youngest in a cycle of waits through ${cycle.map(formatTimestamp).join(' -> ')}; it is rolled back`,
        );
      }
      if (cycle.includes(next.startTs)) return; // a cycle we are not part of: its own members break it
      cycle.push(next.startTs);
      next = await this.waitEdge(next);
    }
  }

  private async waitEdge(node: WaitNode): Promise<WaitNode | undefined> {
    let storage;
    try {
      storage = this.ctx.storageOf(node.table);
    } catch {
      return undefined; // a table this client does not know: the wait ends by timeout
    }
    const shard = this.ctx.shards[this.ctx.placement.shardOfKey(storage.meta, node.key)]!;
    const { rows } = await shard.query<WaitEdgeRow>(new PessimisticLockStatements(storage).waitEdge(node.startTs, node.key), { prepare: true });
    const edge = rows[0];
    if (!edge?.waiting_for_ts || !edge.waiting_for_table || !edge.waiting_for_key) return undefined;
    return { startTs: BigInt(edge.waiting_for_ts), table: edge.waiting_for_table, key: edge.waiting_for_key };
  }
}
