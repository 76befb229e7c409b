import pg from 'pg';
import { ShardUnavailableError } from '../errors.js';
import { isConnectionError } from './shard-errors.js';

export interface PipelinedConnectionsOptions {
  /** Everything pg.Client needs: URL, connect and statement timeouts, startup options, type parsers. */
  readonly client: pg.ClientConfig;
  /** How many connections statements are spread over. */
  readonly count: number;
  /** A connection failed (it is replaced on next use). */
  readonly onError: (error: Error) => void;
}

const SPILL_DEPTH = 8;

interface Slot {
  client: pg.Client | undefined;
  opening: Promise<pg.Client> | undefined;
  inFlight: number;
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
  /** Statements submitted and not yet settled, over all connections. */
  private pending = 0;
  private onDrained: (() => void) | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: PipelinedConnectionsOptions) {
    this.slots = Array.from({ length: Math.max(1, options.count) }, () => ({ client: undefined, opening: undefined, inFlight: 0 }));
  }

  /** Submits a statement (`submit`) on the connection pick() chooses, opening it if need be; settles with it. */
  run<T>(submit: (client: pg.Client) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('Cannot use a pool after calling end on the pool'));
    const slot = this.pick();
    slot.inFlight++;
    this.pending++;
    const finish = (): void => {
      slot.inFlight--;
      if (--this.pending === 0) this.onDrained?.();
    };
    let used = slot.client;
    const started = used ? submit(used) : this.open(slot).then((opened) => submit((used = opened)));
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
    if (this.pending > 0) await new Promise<void>((resolve) => (this.onDrained = resolve));
    for (const slot of this.slots) {
      const client = slot.client;
      slot.client = undefined;
      void client?.end().catch(() => {});
    }
  }

  /**
   * The first connection with fewer than SPILL_DEPTH statements in flight,
   * else the least busy one: statements are packed onto as few connections
   * as the load allows, since the deeper a connection's queue, the more
   * statements its backend runs per wakeup.
   */
  private pick(): Slot {
    let best = this.slots[0]!;
    for (const slot of this.slots) {
      if (slot.inFlight < SPILL_DEPTH) return slot;
      if (slot.inFlight < best.inFlight) best = slot;
    }
    return best;
  }

  private open(slot: Slot): Promise<pg.Client> {
    if (slot.opening) return slot.opening;
    const client = new pg.Client({ ...this.options.client, pipeline: true } as pg.ClientConfig);
    const forget = (error?: Error): void => {
      if (slot.client === client) slot.client = undefined;
      if (error) this.options.onError(error);
    };
    // Listeners for the connection's whole life: a socket failure must not crash the process.
    client.on('error', (error: Error) => forget(error));
    client.on('end', () => forget());
    slot.opening = client.connect().then(
      () => {
        // Even when closing: the statement that opened it is in flight, and close() waits for it.
        slot.opening = undefined;
        slot.client = client;
        return client;
      },
      (error: unknown) => {
        slot.opening = undefined;
        void client.end().catch(() => {});
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
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return code === '0A000' || code === '26000';
}
