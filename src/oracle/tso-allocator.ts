import { composeTimestamp, LOGICAL_BITS, MAX_LOGICAL, physicalMs, type Timestamp } from '../timestamp.js';
import type { WallClock } from './clock.js';

/**
 * The leader's counter: the last timestamp handed out and the persisted
 * limit below which it may hand out more. It knows nothing of leases or
 * storage; the oracle node persists `proposeLimit()` and then calls
 * `acceptPersistedLimit()`.
 */
export class TimestampAllocator {
  private last: Timestamp = 0n;
  private limit: Timestamp = 0n;

  constructor(private readonly clock: WallClock) {}

  /** On becoming leader: nothing is served until a limit above the old one is persisted. */
  resetForNewTerm(previousLimit: Timestamp): void {
    if (previousLimit - 1n > this.last) this.last = previousLimit - 1n;
    this.limit = previousLimit;
  }

  /** A limit `windowMs` ahead of now (or of the last timestamp, if the clock is behind it). */
  proposeLimit(windowMs: number): Timestamp {
    const base = Math.max(this.clock.nowMs(), physicalMs(this.last));
    return composeTimestamp(base + windowMs, 0);
  }

  /** Called only once `limit` is stored in the meta database. */
  acceptPersistedLimit(limit: Timestamp): void {
    if (limit > this.limit) this.limit = limit;
  }

  /** Milliseconds of timestamps left below the persisted limit. */
  remainingMs(): number {
    return physicalMs(this.limit) - Math.max(this.clock.nowMs(), physicalMs(this.last));
  }

  /**
   * Hands out the contiguous range [first, first + count), or undefined when
   * the persisted window is used up (the caller persists more and retries).
   * 1. Strictly increasing: every range starts above the last timestamp handed out.
   * 2. Durable: every timestamp handed out is below the persisted limit, and a
   *    successor starts at or above that limit.
   * 3. The wall clock stepping back never makes timestamps go back: the base
   *    is the larger of the clock and the last timestamp + 1.
   * 4. Logical overflow within one millisecond moves to the next millisecond,
   *    so a range never spills into the physical bits. (count <= 2^18 is checked by the caller.)
   */
  tryAllocate(count: number): Timestamp | undefined {
    const fromClock = BigInt(this.clock.nowMs()) << LOGICAL_BITS;
    let first = this.last + 1n > fromClock ? this.last + 1n : fromClock;
    const n = BigInt(count);
    if ((first & MAX_LOGICAL) + n - 1n > MAX_LOGICAL) first = ((first >> LOGICAL_BITS) + 1n) << LOGICAL_BITS;
    const end = first + n - 1n;
    if (end >= this.limit) return undefined;
    this.last = end;
    return first;
  }
}
