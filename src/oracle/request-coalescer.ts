import { performance } from 'node:perf_hooks';
import type { Timestamp } from '../timestamp.js';

interface Waiter {
  count: number;
  resolve(first: Timestamp): void;
  reject(error: unknown): void;
}

/**
 * Turns many concurrent callers into one request at a time. Callers that
 * arrive while a request is in flight wait together; when it returns, one
 * request asks for exactly as many timestamps as they want in total, and
 * the contiguous range is dealt out in arrival order.
 */
export class RequestCoalescer {
  private waiting: Waiter[] = [];
  private waitingCount = 0;
  /** When the oldest waiting caller arrived (performance.now()); its deadline counts from there. */
  private oldestWaitAt = 0;
  private inFlight = false;
  private flushScheduled = false;

  constructor(
    /** Fetches [first, first + count); rejects when no leader answered before `deadline` (performance.now() ms). */
    private readonly fetchRange: (count: number, deadline: number) => Promise<Timestamp>,
    private readonly maxCount: number,
    private readonly deadlineMs: number,
    private readonly onBatch?: (count: number) => void,
  ) {}

  /** The first timestamp of a range of `count` reserved for this caller. */
  take(count: number, signal?: AbortSignal): Promise<Timestamp> {
    return new Promise<Timestamp>((resolve, reject) => {
      if (signal) {
        if (signal.aborted) return reject(signal.reason);
        const onAbort = (): void => {
          // The range, if it still arrives, is simply not used: gaps are harmless.
          waiter.resolve = () => {};
          waiter.reject = () => {};
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        const waiter: Waiter = {
          count,
          resolve: (first) => (signal.removeEventListener('abort', onAbort), resolve(first)),
          reject: (error) => (signal.removeEventListener('abort', onAbort), reject(error)),
        };
        this.enqueue(waiter);
      } else {
        this.enqueue({ count, resolve, reject });
      }
    });
  }

  /** Rejects everybody still waiting (the in-flight request settles on its own). */
  rejectAll(error: unknown): void {
    const waiting = this.waiting;
    this.waiting = [];
    this.waitingCount = 0;
    for (const waiter of waiting) waiter.reject(error);
  }

  private enqueue(waiter: Waiter): void {
    if (this.waiting.length === 0) this.oldestWaitAt = performance.now();
    this.waiting.push(waiter);
    this.waitingCount += waiter.count;
    if (!this.inFlight && !this.flushScheduled) {
      // Let the callers of this tick join the same request.
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  private flush(): void {
    if (this.inFlight || this.waiting.length === 0) return;
    let batch: Waiter[];
    let total: number;
    if (this.waitingCount <= this.maxCount) {
      batch = this.waiting;
      total = this.waitingCount;
      this.waiting = [];
      this.waitingCount = 0;
    } else {
      let n = 0;
      total = 0;
      while (n < this.waiting.length && total + this.waiting[n]!.count <= this.maxCount) total += this.waiting[n++]!.count;
      batch = this.waiting.splice(0, n);
      this.waitingCount -= total;
    }
    const deadline = this.oldestWaitAt + this.deadlineMs;
    if (this.waiting.length > 0) this.oldestWaitAt = performance.now();
    this.inFlight = true;
    this.onBatch?.(total);
    this.fetchRange(total, deadline).then(
      (first) => {
        // Send the next request first, then wake this batch's callers: their
        // work overlaps with the next round trip.
        this.inFlight = false;
        this.flush();
        let next = first;
        for (const waiter of batch) {
          waiter.resolve(next);
          next += BigInt(waiter.count);
        }
      },
      (error: unknown) => {
        this.inFlight = false;
        this.flush();
        for (const waiter of batch) waiter.reject(error);
      },
    );
  }
}
