import { describe, expect, it } from 'vitest';
import { TimestampAllocator } from '../../src/oracle/tso-allocator.js';
import { composeTimestamp, logicalPart, MAX_LOGICAL, physicalMs } from '../../src/timestamp.js';

/** A wall clock the test sets by hand (the allocator's clock is injectable by design). */
function manualClock(start: number): { nowMs(): number; set(ms: number): void } {
  let now = start;
  return { nowMs: () => now, set: (ms) => (now = ms) };
}

describe('TimestampAllocator', () => {
  const T0 = 1_764_000_000_000;

  it('serves nothing until a window is persisted, then only below it', () => {
    const clock = manualClock(T0);
    const allocator = new TimestampAllocator(clock);
    allocator.resetForNewTerm(0n);
    expect(allocator.tryAllocate(1)).toBeUndefined();
    allocator.acceptPersistedLimit(allocator.proposeLimit(1000));
    const first = allocator.tryAllocate(10)!;
    expect(physicalMs(first)).toBe(T0);
    clock.set(T0 + 1000);
    expect(allocator.tryAllocate(1)).toBeUndefined();
  });

  it('starts a new term at or above the previous limit, whatever the clock says', () => {
    const clock = manualClock(T0);
    const allocator = new TimestampAllocator(clock);
    const previousLimit = composeTimestamp(T0 + 60_000, 0);
    allocator.resetForNewTerm(previousLimit);
    allocator.acceptPersistedLimit(allocator.proposeLimit(3000));
    expect(allocator.tryAllocate(5)).toBe(previousLimit);
  });

  it('never goes back when the clock steps back', () => {
    const clock = manualClock(T0);
    const allocator = new TimestampAllocator(clock);
    allocator.resetForNewTerm(0n);
    allocator.acceptPersistedLimit(allocator.proposeLimit(3000));
    const a = allocator.tryAllocate(3)!;
    clock.set(T0 - 10_000);
    const b = allocator.tryAllocate(3)!;
    expect(b).toBe(a + 3n);
    clock.set(T0 + 1);
    expect(physicalMs(allocator.tryAllocate(1)!)).toBe(T0 + 1);
  });

  it('moves to the next millisecond when the logical part would overflow', () => {
    const clock = manualClock(T0);
    const allocator = new TimestampAllocator(clock);
    allocator.resetForNewTerm(0n);
    allocator.acceptPersistedLimit(allocator.proposeLimit(3000));
    const big = Number(MAX_LOGICAL) - 10;
    const a = allocator.tryAllocate(big)!;
    expect(logicalPart(a)).toBe(0);
    const b = allocator.tryAllocate(100)!;
    expect(physicalMs(b)).toBe(T0 + 1);
    expect(logicalPart(b)).toBe(0);
    expect(b).toBeGreaterThan(a + BigInt(big) - 1n);
  });
});
