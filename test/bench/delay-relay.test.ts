import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDelayRelay, type DelayRelay } from '../../bench/delay-relay.js';

// An echo server that ends its side once the client ended its own: half-close must pass through in order.
let echo: net.Server;
let relay: DelayRelay;

beforeAll(async () => {
  echo = net.createServer({ allowHalfOpen: true }, (socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  relay = await startDelayRelay({ host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port }, 2);
});
afterAll(async () => {
  await relay.close();
  await new Promise((resolve) => echo.close(resolve));
});

/** Sends `chunks` (then ends), resolves with everything echoed back once the relay ended the client's side. */
async function roundTrip(chunks: readonly Buffer[]): Promise<Buffer> {
  const socket = net.connect({ host: '127.0.0.1', port: relay.port, allowHalfOpen: true });
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  const ended = new Promise<void>((resolve, reject) => socket.once('end', resolve).once('error', reject));
  for (const chunk of chunks) socket.write(chunk);
  socket.end();
  await ended;
  socket.destroy();
  return Buffer.concat(received);
}

describe('delay relay', () => {
  it('passes every byte in order, in both directions, then the end of each side', async () => {
    const chunks = Array.from({ length: 500 }, (_, i) => Buffer.from(`chunk ${i};`));
    chunks.push(randomBytes(4 * 1024 * 1024));
    expect((await roundTrip(chunks)).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('delays each direction by the given time: a round trip takes at least twice it', async () => {
    const socket = net.connect({ host: '127.0.0.1', port: relay.port, noDelay: true });
    await new Promise((resolve) => socket.once('connect', resolve));
    let fastest = Infinity;
    for (let i = 0; i < 20; i++) {
      const start = performance.now();
      socket.write('x');
      await new Promise((resolve) => socket.once('data', resolve));
      fastest = Math.min(fastest, performance.now() - start);
    }
    socket.destroy();
    expect(fastest).toBeGreaterThanOrEqual(4);
  });

  it('takes a new delay while data flows: nothing reordered, and the chunks held back are counted', async () => {
    const free = await startDelayRelay({ host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port }, 0);
    try {
      const socket = net.connect({ host: '127.0.0.1', port: free.port, noDelay: true });
      await new Promise((resolve) => socket.once('connect', resolve));
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      const sent: Buffer[] = [];
      const send = async (count: number, from: number): Promise<void> => {
        for (let i = from; i < from + count; i++) {
          sent.push(Buffer.from(`${i};`));
          socket.write(sent.at(-1)!);
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      await send(50, 0);
      const undelayed = free.delayedChunks;
      free.setDelay(20);
      await send(50, 50);
      const delayed = free.delayedChunks;
      free.setDelay(0); // later chunks must still wait for the ones held back before them
      await send(50, 100);
      const total = Buffer.concat(sent).length;
      while (Buffer.concat(received).length < total) await new Promise((resolve) => socket.once('data', resolve));
      socket.destroy();
      expect(Buffer.concat(received).toString()).toBe(Buffer.concat(sent).toString());
      expect(undelayed).toBe(0);
      expect(delayed).toBeGreaterThan(0);
    } finally {
      await free.close();
    }
  });
});
