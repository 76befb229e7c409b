import type { Timestamp } from '../timestamp.js';

/**
 * In-process wake-ups for locking reads: a waiter blocked by transaction H
 * of the same engine is woken the moment H commits or rolls back, instead of
 * at its next poll. Waiters blocked by other processes' transactions still
 * poll (pessimistic-lock-wait.ts); a wake-up is only a hint to look again.
 */
export class LockWakeups {
  private readonly waiters = new Map<Timestamp, Set<() => void>>();

  /** Resolves after `ms`, or earlier (true) when one of `holders` ends. */
  sleep(holders: readonly Timestamp[], ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const wake = (woken: boolean): void => {
        clearTimeout(timer);
        for (const h of holders) this.remove(h, onEnd);
        resolve(woken);
      };
      const onEnd = (): void => wake(true);
      const timer = setTimeout(() => wake(false), ms);
      for (const h of holders) {
        let set = this.waiters.get(h);
        if (!set) this.waiters.set(h, (set = new Set()));
        set.add(onEnd);
      }
    });
  }

  /**
   * Transaction `startTs` of this engine committed or rolled back: wakes the
   * longest waiting of its waiters only. Waking them all would send every
   * one's lock statement to the shard for a lock only one can get; the
   * others look again at their next poll (and wait for the new holder).
   */
  ended(startTs: Timestamp): void {
    const set = this.waiters.get(startTs);
    const first = set?.values().next().value;
    first?.();
  }

  private remove(holder: Timestamp, wake: () => void): void {
    const set = this.waiters.get(holder);
    if (!set) return;
    set.delete(wake);
    if (set.size === 0) this.waiters.delete(holder);
  }
}
