import pg from 'pg';
import { ShardUnavailableError } from '../errors.js';
import { isConnectionError, sqlStateOf } from './shard-errors.js';
import { openClient } from './shard-primary.js';
import { markNotSent } from './statement-not-sent.js';

export interface PipelinedConnectionsOptions {
  /** Everything pg.Client needs: URL, connect and statement timeouts, startup options, type parsers. */
  readonly client: pg.ClientConfig;
  /** How many connections statements are spread over. */
  readonly count: number;
  /** Most statements in flight on one connection; past it on all of them, statements wait unsent. */
  readonly maxInFlight: number;
  /** How long a statement may wait unsent before it fails (ShardUnavailableError: certainly not run). */
  readonly waitTimeoutMs: number;
  /** A connection with nothing in flight for this long is closed (reopened on demand); 0 keeps it open. */
  readonly idleTimeoutMs: number;
  /** A connection failed (it is replaced on next use). */
  readonly onError: (error: Error) => void;
  /** Opens a connection with `client` (default: to its URL; a shard with standbys: to its primary, shard-primary.ts). */
  readonly connect?: (client: pg.ClientConfig) => Promise<pg.Client>;
}

const SPILL_DEPTH = 8;

interface Waiter {
  readonly start: () => void;
  readonly timer: NodeJS.Timeout;
}

interface Slot {
  client: pg.Client | undefined;
  opening: Promise<pg.Client> | undefined;
  inFlight: number;
  /** When its last statement settled (performance.now()). */
  idleSince: number;
}

/**
 * A few connections in node-postgres's pipeline mode, shared by every
 * autocommit statement of one shard: a statement is written at once, behind
 * whatever its connection is still running, with its own Sync (its own
 * local transaction, as if it had a connection to itself), to the first
 * connection with fewer than SPILL_DEPTH statements in flight (pick()).
 *
 * Why: on a busy server each statement on its own connection costs a
 * backend wakeup and a context switch, and dozens of backends compete for
 * the cores. Queued on a few connections, a backend finds the next
 * statement already in its socket buffer and runs it without sleeping, and
 * the client writes what one tick produced in one syscall. Statements on one
 * connection run one after another, so a statement waiting on a row lock
 * delays those behind it; that cannot deadlock, because a statement only
 * ever waits on statements that are running (at the head of their
 * connection) or on transactions, which never share these connections
 * (ShardPool.transaction has its own).
 */
export class PipelinedConnections {
  private readonly slots: Slot[];
  private closed = false;
  private onDrained: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  /** Statements waiting unsent for room on a connection, oldest first. */
  private readonly waiting: Waiter[] = [];

  private readonly reaper: NodeJS.Timeout | undefined;

  constructor(private readonly options: PipelinedConnectionsOptions) {
    this.slots = Array.from({ length: Math.max(1, options.count) }, () => ({ client: undefined, opening: undefined, inFlight: 0, idleSince: 0 }));
    if (options.idleTimeoutMs > 0) {
      this.reaper = setInterval(() => this.closeIdle(), Math.max(100, Math.floor(options.idleTimeoutMs / 4)));
      this.reaper.unref();
    }
  }

  /**
   * Submits a statement (`submit`) on the connection pick() chooses, opening
   * it if need be; settles with it. When every connection has maxInFlight
   * statements in flight, it waits unsent, first come first served: a
   * deadline then fails it before anything was written, so the caller knows
   * it did not run (one written and timed out may have).
   */
  run<T>(submit: (client: pg.Client) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('Cannot use a pool after calling end on the pool'));
    const slot = this.pick();
    if (slot.inFlight < this.options.maxInFlight) return this.dispatch(slot, submit);
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          clearTimeout(waiter.timer);
          this.dispatch(this.pick(), submit).then(resolve, reject);
        },
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          this.settled();
          // pg-pool's wording, which shard-errors.ts classifies as "shard unavailable".
          reject(markNotSent(new Error('timeout exceeded when trying to connect')));
        }, this.options.waitTimeoutMs),
      };
      this.waiting.push(waiter);
    });
  }

  private dispatch<T>(slot: Slot, submit: (client: pg.Client) => Promise<T>): Promise<T> {
    slot.inFlight++;
    const finish = (): void => {
      if (--slot.inFlight === 0) slot.idleSince = performance.now();
      this.settled();
      if (this.waiting.length > 0) this.waiting.shift()!.start();
    };
    let used = slot.client;
    // A connection that cannot be opened fails the statement before anything of it was written.
    const started = used
      ? submit(used)
      : this.open(slot).then(
          (opened) => submit((used = opened)),
          (error: unknown) => {
            throw markNotSent(error);
          },
        );
    return started.then(
      (result) => {
        finish();
        return result;
      },
      (error: unknown) => {
        finish();
        if (used && slot.client === used && mustReplace(error)) {
          slot.client = undefined;
          void used.end().catch(() => {});
        }
        throw error;
      },
    );
  }

  /** A statement left (answered, failed, or gave up waiting): close() may be waiting for the last one. */
  private settled(): void {
    if (this.onDrained && this.drained()) this.onDrained();
  }

  /** No statement in flight on any connection, none waiting. */
  private drained(): boolean {
    return this.waiting.length === 0 && this.slots.every((slot) => slot.inFlight === 0);
  }

  /**
   * Refuses new statements, waits for those submitted to settle (answered,
   * or failed by the statement deadline), then ends every connection. The
   * goodbye is not waited for: a shard that is stopped (not dead) would
   * never answer it.
   */
  close(): Promise<void> {
    this.closed = true;
    return (this.closing ??= this.endWhenDrained());
  }

  private async endWhenDrained(): Promise<void> {
    if (this.reaper) clearInterval(this.reaper);
    if (!this.drained()) await new Promise<void>((resolve) => (this.onDrained = resolve));
    for (const slot of this.slots) {
      const client = slot.client;
      slot.client = undefined;
      void client?.end().catch(() => {});
    }
  }

  /** Closes connections idle longer than idleTimeoutMs (under steady load packing keeps the first ones busy, so these are the spill-over ones). */
  private closeIdle(): void {
    const oldest = performance.now() - this.options.idleTimeoutMs;
    for (const slot of this.slots) {
      if (slot.client && slot.inFlight === 0 && slot.idleSince <= oldest) {
        const client = slot.client;
        slot.client = undefined;
        void client.end().catch(() => {});
      }
    }
  }

  /**
   * The first connection with fewer than SPILL_DEPTH statements in flight,
   * else the least busy one: statements are packed onto as few connections
   * as the load allows, since the deeper a connection's queue, the more
   * statements its backend runs per wakeup.
   */
  private pick(): Slot {
    const spill = Math.min(SPILL_DEPTH, this.options.maxInFlight);
    let best = this.slots[0]!;
    for (const slot of this.slots) {
      if (slot.inFlight < spill) return slot;
      if (slot.inFlight < best.inFlight) best = slot;
    }
    return best;
  }

  private open(slot: Slot): Promise<pg.Client> {
    if (slot.opening) return slot.opening;
    slot.opening = (this.options.connect ?? openClient)({ ...this.options.client, pipeline: true } as pg.ClientConfig).then(
      (client) => {
        const forget = (error?: Error): void => {
          if (slot.client === client) slot.client = undefined;
          if (error) this.options.onError(error);
        };
        // Listeners for the connection's whole life: a socket failure must not crash the process.
        // Added in the same tick as the connection's last answer, so no event is missed.
        client.on('error', (error: Error) => forget(error));
        client.on('end', () => forget());
        // Even when closing: the statement that opened it is in flight, and close() waits for it.
        slot.opening = undefined;
        slot.client = client;
        return client;
      },
      (error: unknown) => {
        slot.opening = undefined;
        throw error;
      },
    );
    return slot.opening;
  }
}

/**
 * Errors after which a connection is not used again. A failed or timed-out
 * connection (node-postgres then destroys its socket) is dropped at once,
 * not when its 'end' event comes, so that the next statement is not written
 * to it. A prepared statement that went stale on it (its table changed under
 * it: 0A000; or it is gone: 26000) would fail the same way on every later
 * use: a new connection prepares it afresh.
 */
function mustReplace(error: unknown): boolean {
  if (error instanceof ShardUnavailableError || isConnectionError(error)) return true;
  const code = sqlStateOf(error);
  return code === '0A000' || code === '26000';
}
