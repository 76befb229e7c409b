import { performance } from 'node:perf_hooks';
import type { Timestamp } from '../timestamp.js';

type Resolve = (first: Timestamp) => void;
type Reject = (error: unknown) => void;

/** Callers waiting for one request, in arrival order (parallel arrays: no object per caller). */
class WaitingCallers {
  resolvers: Resolve[] = [];
  rejecters: Reject[] = [];
  counts: number[] = [];
  total = 0;
}

/**
 * Turns many concurrent callers into one request at a time. Callers that
 * arrive while a request is in flight wait together; when it returns, one
 * request asks for exactly as many timestamps as they want in total, and
 * the contiguous range is dealt out in arrival order.
 */
export class RequestCoalescer {
  private waiting = new WaitingCallers();
  /** When the oldest waiting caller arrived (performance.now()); its deadline counts from there. */
  private oldestWaitAt = 0;
  private inFlight = false;
  private flushScheduled = false;
  /** One executor for every promise: the hot path allocates no closure per caller. */
  private readonly enqueueExecutor = (resolve: Resolve, reject: Reject): void => {
    const waiting = this.waiting;
    if (waiting.resolvers.length === 0) this.oldestWaitAt = performance.now();
    waiting.resolvers.push(resolve);
    waiting.rejecters.push(reject);
  };
  private readonly scheduledFlush = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  constructor(
    /** Fetches [first, first + count); rejects when no leader answered before `deadline` (performance.now() ms). */
    private readonly fetchRange: (count: number, deadline: number) => Promise<Timestamp>,
    private readonly maxCount: number,
    private readonly deadlineMs: number,
    private readonly onBatch?: (count: number) => void,
  ) {}

  /** The first timestamp of a range of `count` (1 .. maxCount) reserved for this caller. */
  take(count: number): Promise<Timestamp> {
    const promise = new Promise<Timestamp>(this.enqueueExecutor);
    this.waiting.counts.push(count);
    this.waiting.total += count;
    this.scheduleFlush();
    return promise;
  }

  /** Flushes after the current tick's callers (and their microtasks) have joined. */
  private scheduleFlush(): void {
    if (this.inFlight || this.flushScheduled || this.waiting.resolvers.length === 0) return;
    this.flushScheduled = true;
    setImmediate(this.scheduledFlush);
  }

  /** Like take(), but gives up when `signal` aborts (the range, if it still arrives, is a harmless gap). */
  takeWithSignal(count: number, signal: AbortSignal): Promise<Timestamp> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<Timestamp>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.take(count).then(
        (first) => (signal.removeEventListener('abort', onAbort), resolve(first)),
        (error: unknown) => (signal.removeEventListener('abort', onAbort), reject(error)),
      );
    });
  }

  /** Rejects everybody still waiting (the in-flight request settles on its own). */
  rejectAll(error: unknown): void {
    const waiting = this.waiting;
    this.waiting = new WaitingCallers();
    for (const reject of waiting.rejecters) reject(error);
  }

  private flush(): void {
    if (this.inFlight || this.waiting.resolvers.length === 0) return;
    const batch = this.takeBatch();
    const deadline = this.oldestWaitAt + this.deadlineMs;
    if (this.waiting.resolvers.length > 0) this.oldestWaitAt = performance.now();
    this.inFlight = true;
    this.onBatch?.(batch.total);
    this.fetchRange(batch.total, deadline).then(
      (first) => {
        this.inFlight = false;
        const { resolvers, counts } = batch;
        let next = first;
        for (let i = 0; i < resolvers.length; i++) {
          resolvers[i]!(next);
          const count = counts[i]!;
          next += count === 1 ? 1n : BigInt(count);
        }
        // The woken callers that ask again (in their microtasks) join those
        // who arrived meanwhile: one request for all of them, not two halves
        // taking turns.
        this.scheduleFlush();
      },
      (error: unknown) => {
        this.inFlight = false;
        for (const reject of batch.rejecters) reject(error);
        this.scheduleFlush();
      },
    );
  }

  /** Everybody waiting, or as many (in order) as fit in one request of maxCount. */
  private takeBatch(): WaitingCallers {
    const waiting = this.waiting;
    if (waiting.total <= this.maxCount) {
      this.waiting = new WaitingCallers();
      return waiting;
    }
    const batch = new WaitingCallers();
    let n = 0;
    while (n < waiting.counts.length && batch.total + waiting.counts[n]! <= this.maxCount) batch.total += waiting.counts[n++]!;
    batch.resolvers = waiting.resolvers.splice(0, n);
    batch.rejecters = waiting.rejecters.splice(0, n);
    batch.counts = waiting.counts.splice(0, n);
    waiting.total -= batch.total;
    return batch;
  }
}
