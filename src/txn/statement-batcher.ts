import { ShardUnavailableError } from '../errors.js';
import type { ShardPool } from '../shard/shard-pool.js';
import { isConnectionError } from '../shard/shard-errors.js';
import type { KeyTexts, TableStorage } from '../shard/table-storage.js';
import { keyBytes, type BatchLimits } from './batches.js';

/** A request's own failure inside a batch that succeeded (e.g. a read older than the GC safe point). */
export class MemberFailure {
  constructor(readonly error: unknown) {}
}

/** One kind of statement that several transactions can share. */
export interface BatchedStatement<Request, Result> {
  /** Runs the requests as one statement; one result (or MemberFailure) per request, in order. */
  run(shard: ShardPool, storage: TableStorage, requests: readonly Request[]): Promise<(Result | MemberFailure)[]>;
  /** The keys of a request: a batch holds at most maxRows keys, and (unless keysMayRepeat) one request per key. */
  keys(request: Request): readonly KeyTexts[];
  /** Parameter bytes a request adds to a statement (default: its keys' texts). */
  bytes?(request: Request): number;
  /** Reads: requests of one batch may share keys. */
  readonly keysMayRepeat?: boolean;
}

interface Member<Request, Result> {
  readonly request: Request;
  readonly resolve: (result: Result) => void;
  readonly reject: (error: unknown) => void;
}

interface Queue<Request, Result> {
  readonly shard: ShardPool;
  readonly storage: TableStorage;
  pending: Member<Request, Result>[];
  /** A batch is in flight, or one is about to be sent. */
  busy: boolean;
}

/**
 * Group commit across transactions, per (shard, table): requests that
 * concurrent transactions of this process make while a statement of this
 * kind is in flight there go out together, as one statement, when it
 * returns. One statement and one local transaction (one WAL flush, one
 * backend wakeup, one plan execution) then serve several transactions.
 * With nothing in flight a request waits only for the end of the current
 * event-loop turn, so that those made in the same turn share its
 * statement; at low load nothing waits longer. (TiKV's client batches its
 * RPCs per store in the same way.)
 *
 * One batch in flight per queue also keeps two of our batches from waiting
 * on each other's rows.
 *
 * A batch that fails with an error the shard reported (a deadlock, say)
 * changed nothing, so its members run again one by one, each meeting its
 * own outcome; only a failure that leaves the outcome unknown (the shard
 * did not answer) is every member's.
 */
export class StatementBatcher<Request, Result> {
  private readonly queues = new Map<string, Queue<Request, Result>>();
  private readonly limits: BatchLimits;

  constructor(
    private readonly statement: BatchedStatement<Request, Result>,
    /** Keys and bytes per statement; a number limits keys only. */
    limits: BatchLimits | number,
    /** Called with the number of requests of each statement sent (metrics). */
    private readonly onSend: (requests: number) => void = () => {},
  ) {
    this.limits = typeof limits === 'number' ? { rows: limits, bytes: Infinity } : limits;
  }

  submit(shard: ShardPool, storage: TableStorage, request: Request): Promise<Result> {
    const id = `${shard.index}:${storage.meta.name}`;
    let queue = this.queues.get(id);
    if (!queue) this.queues.set(id, (queue = { shard, storage, pending: [], busy: false }));
    const result = new Promise<Result>((resolve, reject) => queue.pending.push({ request, resolve, reject }));
    if (!queue.busy) {
      queue.busy = true;
      setImmediate(() => this.send(queue));
    }
    return result;
  }

  private send(queue: Queue<Request, Result>): void {
    const batch = this.take(queue);
    if (batch.length === 0) {
      queue.busy = false;
      return;
    }
    this.onSend(batch.length);
    void this.run(queue, batch).finally(() => this.send(queue));
  }

  /**
   * Pending members, oldest first, up to limits.rows keys and about
   * limits.bytes bytes (the first always goes, whatever its size); a member
   * with a key already in the batch waits for the next one.
   */
  private take(queue: Queue<Request, Result>): Member<Request, Result>[] {
    const batch: Member<Request, Result>[] = [];
    const rest: Member<Request, Result>[] = [];
    const taken = new Set<string>();
    let rows = 0;
    let bytes = 0;
    const distinct = !this.statement.keysMayRepeat;
    for (const member of queue.pending) {
      const keys = this.statement.keys(member.request);
      const texts = distinct ? keys.map((k) => k.join('\u0000')) : [];
      const size = this.statement.bytes ? this.statement.bytes(member.request) : keys.reduce((n, k) => n + keyBytes(k), 0);
      const fits = batch.length === 0 || (rows + keys.length <= this.limits.rows && bytes + size <= this.limits.bytes && !texts.some((t) => taken.has(t)));
      if (!fits) {
        rest.push(member);
        continue;
      }
      batch.push(member);
      rows += keys.length;
      bytes += size;
      for (const t of texts) taken.add(t);
    }
    queue.pending = rest;
    return batch;
  }

  private async run(queue: Queue<Request, Result>, batch: Member<Request, Result>[]): Promise<void> {
    try {
      const results = await this.statement.run(queue.shard, queue.storage, batch.map((m) => m.request));
      batch.forEach((member, i) => settle(member, results[i]!));
    } catch (error) {
      if (batch.length === 1 || !outcomeKnown(error)) {
        for (const member of batch) member.reject(error);
        return;
      }
      await Promise.all(
        batch.map((member) =>
          this.statement.run(queue.shard, queue.storage, [member.request]).then(
            ([result]) => settle(member, result!),
            (failure: unknown) => member.reject(failure),
          ),
        ),
      );
    }
  }
}

function settle<Request, Result>(member: Member<Request, Result>, result: Result | MemberFailure): void {
  if (result instanceof MemberFailure) member.reject(result.error);
  else member.resolve(result);
}

/** The shard answered with an error: the statement's local transaction rolled back, nothing of the batch took effect. */
function outcomeKnown(error: unknown): boolean {
  return !(error instanceof ShardUnavailableError) && !isConnectionError(error);
}
