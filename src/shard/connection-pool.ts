import pg from 'pg';
import { openClient } from './shard-primary.js';

export interface ConnectionPoolOptions {
  /** Everything pg.Client needs: URL, connect and statement timeouts, startup options, type parsers. */
  readonly client: pg.ClientConfig;
  readonly max: number;
  /** A connection unused this long is closed; 0 keeps idle connections open. */
  readonly idleTimeoutMillis: number;
  /** How long acquire() waits for a free connection when `max` are in use. */
  readonly acquireTimeoutMillis: number;
  /** A connection failed while nobody was using it (it is dropped from the pool). */
  readonly onIdleError: (error: Error) => void;
  /** Opens a connection with `client` (default: to its URL; a shard with standbys: to its primary, shard-primary.ts). */
  readonly connect?: (client: pg.ClientConfig) => Promise<pg.Client>;
}

interface Waiter {
  resolve(client: pg.PoolClient): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

/** Per-connection bookkeeping, kept off the pg.Client object. */
interface ConnectionState {
  /** The socket failed or ended: never hand it out again. */
  dead: boolean;
  /** Checked out (not in the idle queue). */
  busy: boolean;
  idleSince: number;
}

/**
 * A bounded pool of pg clients for one shard's local transactions of
 * several statements (single statements go to PipelinedConnections): a
 * free connection is handed out with no timer or listener change per
 * checkout (pg-pool pays a nextTick, three timers and two listener changes
 * for each).
 * Idle connections are used in FIFO order, so under steady load every one of
 * them stays warm (and keeps its prepared statements) instead of the least
 * used ones timing out and being reopened; one unref'd timer closes
 * connections idle longer than `idleTimeoutMillis`.
 */
export class ConnectionPool {
  private readonly idle: pg.PoolClient[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly states = new Map<pg.Client, ConnectionState>();
  /** Open plus opening connections. */
  private size = 0;
  private closed = false;
  /** Set by close() while connections are still checked out. */
  private onDrained: (() => void) | undefined;
  private readonly reaper: NodeJS.Timeout | undefined;

  constructor(private readonly options: ConnectionPoolOptions) {
    if (options.idleTimeoutMillis > 0) {
      this.reaper = setInterval(() => this.closeExpired(), Math.max(100, Math.floor(options.idleTimeoutMillis / 4)));
      this.reaper.unref();
    }
  }

  /** A free open connection, or undefined. */
  private tryAcquire(): pg.PoolClient | undefined {
    while (this.idle.length > 0) {
      const client = this.idle.shift()!;
      const state = this.states.get(client)!;
      if (state.dead) {
        void this.destroy(client);
        continue;
      }
      state.busy = true;
      return client;
    }
    return undefined;
  }

  /** A connection: a free one, a new one while under `max`, or the next one released. */
  acquire(): Promise<pg.PoolClient> {
    if (this.closed) return Promise.reject(new Error('Cannot use a pool after calling end on the pool'));
    const free = this.tryAcquire();
    if (free) return Promise.resolve(free);
    if (this.size < this.options.max) return this.open();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          // pg-pool's wording, which shard-errors.ts classifies as "shard unavailable".
          reject(new Error('timeout exceeded when trying to connect'));
        }, this.options.acquireTimeoutMillis),
      };
      this.waiters.push(waiter);
    });
  }

  /** Gives a connection back; `discard` (or a failed connection) closes it instead. */
  release(client: pg.PoolClient, discard = false): void {
    const state = this.states.get(client);
    if (!state?.busy) return; // released twice
    state.busy = false;
    if (discard || state.dead || this.closed) {
      this.destroy(client);
      this.serveWaiter();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      state.busy = true;
      waiter.resolve(client);
      return;
    }
    state.idleSince = performance.now();
    this.idle.push(client);
  }

  /**
   * Closes idle connections now and the others when they are released (or
   * done opening); resolves once none is checked out, as pg-pool's end()
   * does. Sockets are not waited for: a shard that is stopped (not dead)
   * would never answer the goodbye.
   */
  close(): Promise<void> {
    this.closed = true;
    if (this.reaper) clearInterval(this.reaper);
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('Cannot use a pool after calling end on the pool'));
    }
    for (const client of this.idle.splice(0)) void this.destroy(client);
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.onDrained = resolve;
    });
  }

  private async open(): Promise<pg.PoolClient> {
    this.size++;
    let client: pg.PoolClient;
    try {
      client = (await (this.options.connect ?? openClient)(this.options.client)) as pg.PoolClient;
    } catch (error) {
      this.shrink();
      this.serveWaiter();
      throw error;
    }
    const state: ConnectionState = { dead: false, busy: true, idleSince: 0 };
    // Listeners live as long as the connection: a socket failure marks it dead
    // (an unhandled 'error' would crash the process), whoever holds it. Added
    // in the same tick as the connection's last answer, so no event is missed.
    client.on('error', (error: Error) => {
      if (state.dead) return;
      state.dead = true;
      if (!state.busy) {
        this.options.onIdleError(error);
        this.removeIdle(client);
        this.destroy(client);
        this.serveWaiter();
      }
    });
    client.on('end', () => {
      state.dead = true;
    });
    client.release = (error?: Error | boolean) => this.release(client, error !== undefined && error !== false);
    if (this.closed) {
      this.shrink();
      client.end().catch(() => {});
      throw new Error('Cannot use a pool after calling end on the pool');
    }
    this.states.set(client, state);
    return client;
  }

  /** A slot was freed: open a connection for the longest waiting caller. */
  private serveWaiter(): void {
    if (this.closed || this.waiters.length === 0 || this.size >= this.options.max) return;
    const waiter = this.waiters.shift()!;
    clearTimeout(waiter.timer);
    this.open().then(waiter.resolve, waiter.reject);
  }

  private destroy(client: pg.Client): Promise<void> {
    if (this.states.delete(client)) this.shrink();
    return client.end().catch(() => {});
  }

  private shrink(): void {
    this.size--;
    if (this.size === 0 && this.onDrained) this.onDrained();
  }

  private removeIdle(client: pg.PoolClient): void {
    const i = this.idle.indexOf(client);
    if (i >= 0) this.idle.splice(i, 1);
  }

  private closeExpired(): void {
    const oldest = performance.now() - this.options.idleTimeoutMillis;
    // FIFO: the longest idle are at the front.
    while (this.idle.length > 0 && this.states.get(this.idle[0]!)!.idleSince <= oldest) {
      void this.destroy(this.idle.shift()!);
    }
  }
}
