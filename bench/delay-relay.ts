import net from 'node:net';

/**
 * A TCP relay on 127.0.0.1 in front of one server that adds a fixed delay
 * to each direction: every chunk read from either side is written to the
 * other `oneWayMs` after it was read, in the order read; throughput is not
 * limited (nothing waits for the other side to drain). Where the kernel has
 * no netem this is how `--rtt-ms` simulates a network: a round trip through
 * the relay takes at least twice `oneWayMs`, plus the relay's own forwarding.
 *
 * Node's timers have millisecond resolution, too coarse for a 0.25 ms delay:
 * the last millisecond before a chunk is due is waited out in short blocking
 * sleeps (Atomics.wait), polling the sockets between them, so arrivals are
 * still timestamped within a slice of when they came.
 */

/** Longest blocking sleep: how late an arrival can be timestamped while a release is near. */
const SLICE_MS = 0.1;

export interface DelayRelay {
  readonly port: number;
  /** Changes the delay from now on; data already queued keeps its release time, and order is kept. */
  setDelay(oneWayMs: number): void;
  /** Chunks (and ends) held back by a delay above zero so far: evidence that the traffic went through the relay while delayed. */
  readonly delayedChunks: number;
  close(): Promise<void>;
}

interface Pending {
  readonly due: number;
  readonly to: net.Socket;
  /** undefined: the other side ended its output; end this one's after the data before it. */
  readonly chunk: Buffer | undefined;
}

const now = (): number => performance.now();
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Relays to `target`, each direction delayed by `oneWayMs` (changed by `setDelay`). */
export async function startDelayRelay(target: { host: string; port: number }, oneWayMs: number): Promise<DelayRelay> {
  let delayMs = oneWayMs;
  let delayedChunks = 0;
  const sockets = new Set<net.Socket>();
  // One queue for every connection: the delay is the same for all, so arrival order is release order
  // (after the delay is lowered, later chunks wait for the earlier ones: a chunk is never released out of order).
  const queue: Pending[] = [];
  let head = 0;
  let scheduled = false;

  const release = (): void => {
    scheduled = false;
    for (;;) {
      const next = queue[head];
      if (!next) break;
      const wait = next.due - now();
      if (wait > 1) {
        scheduled = true;
        setTimeout(release, Math.floor(wait - 1)).unref();
        break;
      }
      if (wait > 0) {
        Atomics.wait(sleeper, 0, 0, Math.min(wait, SLICE_MS));
        // Poll the sockets before going on, so that what arrived meanwhile is timestamped now.
        scheduled = true;
        setImmediate(release);
        break;
      }
      head++;
      if (next.to.destroyed) continue;
      if (next.chunk) next.to.write(next.chunk);
      else next.to.end();
    }
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
  };
  const enqueue = (to: net.Socket, chunk: Buffer | undefined): void => {
    if (delayMs > 0) delayedChunks++;
    queue.push({ due: now() + delayMs, to, chunk });
    if (!scheduled) {
      scheduled = true;
      setImmediate(release);
    }
  };

  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ host: target.host, port: target.port, noDelay: true, allowHalfOpen: true });
    sockets.add(client).add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      from.on('data', (chunk: Buffer) => enqueue(to, chunk));
      from.on('end', () => enqueue(to, undefined));
      from.on('error', end);
      from.on('close', () => {
        sockets.delete(from);
        // A side that closed without ending its output (a reset) takes the other with it.
        if (!from.readableEnded) end();
      });
    }
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    setDelay(ms: number) {
      delayMs = ms;
    },
    get delayedChunks() {
      return delayedChunks;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
