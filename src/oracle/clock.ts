import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/**
 * The oracle's wall clock (milliseconds since 1970): the physical part of
 * timestamps. It may jump in either direction; the allocator copes.
 * Injectable so that tests can step it.
 */
export interface WallClock {
  nowMs(): number;
  close?(): void;
}

export const systemClock: WallClock = { nowMs: () => Date.now() };

/**
 * Monotonic milliseconds (CLOCK_MONOTONIC: it keeps running while the
 * process is stopped). Lease validity is judged by this clock only, never by
 * the wall clock, so stepping the wall clock cannot extend a lease.
 */
export function monotonicMs(): number {
  return performance.now();
}

/**
 * TEST ONLY: the system clock plus an offset in milliseconds read from a
 * file that the test rewrites to step the clock back or forth. The file is
 * re-read every 10 ms; a missing or unparsable file means offset 0.
 */
export function offsetFileClock(file: string): WallClock {
  let offset = 0;
  const read = (): void => {
    try {
      const value = Number(readFileSync(file, 'utf8').trim());
      offset = Number.isFinite(value) ? value : 0;
    } catch {
      offset = 0;
    }
  };
  read();
  const timer = setInterval(read, 10);
  timer.unref();
  return { nowMs: () => Date.now() + offset, close: () => clearInterval(timer) };
}
