import { ShardUnavailableError } from '../errors.js';
import type { ShardPool } from '../shard/shard-pool.js';
import { isConnectionError } from '../shard/shard-errors.js';
import type { KeyTexts } from '../shard/key-text.js';
import { keyBytes, type ChunkLimits } from './table-chunks.js';

/** A request's own failure inside a shared statement that succeeded (e.g. a read older than the GC safe point). */
export class MemberFailure {
  constructor(readonly error: unknown) {}
}

/** A key of a request: its table's name and its key texts. */
export interface StatementKey {
  readonly table: string;
  readonly keyTexts: KeyTexts;
}

/** One kind of statement that several transactions can share. */
export interface ShareableStatement<Request, Result> {
  /** Which requests of one shard may share a statement: those with the same queue (e.g. a table's name; '' for any). */
  queue(request: Request): string;
  /** Runs the requests (all of one queue) as one statement; one result (or MemberFailure) per request, in order. */
  run(shard: ShardPool, requests: readonly Request[]): Promise<(Result | MemberFailure)[]>;
  /** The keys of a request: a shared statement holds at most maxRows keys, and (unless keysMayRepeat) one request per key. */
  keys(request: Request): readonly StatementKey[];
  /** Parameter bytes a request adds to a statement (default: its keys' texts). */
  bytes?(request: Request): number;
  /** Reads: requests of one shared statement may share keys. */
  readonly keysMayRepeat?: boolean;
}

interface Member<Request, Result> {
  readonly request: Request;
  readonly resolve: (result: Result) => void;
  readonly reject: (error: unknown) => void;
}

interface Queue<Request, Result> {
  readonly shard: ShardPool;
  pending: Member<Request, Result>[];
  /** A shared statement is in flight, or one is about to be sent. */
  busy: boolean;
}

/**
 * Group commit across transactions, per shard and queue (the statement's
 * choice: prewrites and commits share one queue per shard whatever their
 * tables, point reads one per (shard, table)): requests that
 * concurrent transactions of this process make while a statement of this
 * kind is in flight there go out together, as one statement, when it
 * returns. One statement and one local transaction (one WAL flush, one
 * backend wakeup, one plan execution) then serve several transactions.
 * With nothing in flight a request waits only for the end of the current
 * event-loop turn, so that those made in the same turn share its
 * statement; at low load nothing waits longer. (TiKV's client batches its
 * RPCs per store in the same way.)
 *
 * One statement in flight per queue also keeps two of ours from waiting
 * on each other's rows.
 *
 * A shared statement that fails with an error the shard reported (a deadlock, say)
 * changed nothing, so its members run again one by one, each meeting its
 * own outcome; only a failure that leaves the outcome unknown (the shard
 * did not answer) is every member's.
 */
export class SharedStatements<Request, Result> {
  private readonly queues = new Map<string, Queue<Request, Result>>();
  private readonly limits: ChunkLimits;

  constructor(
    private readonly statement: ShareableStatement<Request, Result>,
    /** Keys and bytes per statement; a number limits keys only. */
    limits: ChunkLimits | number,
    /** Called with the number of requests of each statement sent (metrics). */
    private readonly onSend: (requests: number) => void = () => {},
  ) {
    this.limits = typeof limits === 'number' ? { rows: limits, bytes: Infinity } : limits;
  }

  submit(shard: ShardPool, request: Request): Promise<Result> {
    const id = `${shard.index}:${this.statement.queue(request)}`;
    let queue = this.queues.get(id);
    if (!queue) this.queues.set(id, (queue = { shard, pending: [], busy: false }));
    const result = new Promise<Result>((resolve, reject) => queue.pending.push({ request, resolve, reject }));
    if (!queue.busy) {
      queue.busy = true;
      setImmediate(() => this.send(queue));
    }
    return result;
  }

  private send(queue: Queue<Request, Result>): void {
    const members = this.take(queue);
    if (members.length === 0) {
      queue.busy = false;
      return;
    }
    this.onSend(members.length);
    void this.run(queue, members).finally(() => this.send(queue));
  }

  /**
   * Pending members, oldest first, up to limits.rows keys and about
   * limits.bytes bytes (the first always goes, whatever its size); a member
   * with a key already in the statement waits for the next one.
   */
  private take(queue: Queue<Request, Result>): Member<Request, Result>[] {
    if (queue.pending.length <= 1) {
      // Alone (as nearly always at low load): it goes, whatever its size, with no keys to compare.
      const alone = queue.pending;
      queue.pending = [];
      return alone;
    }
    const members: Member<Request, Result>[] = [];
    const rest: Member<Request, Result>[] = [];
    const taken = new Set<string>();
    let rows = 0;
    let bytes = 0;
    const distinct = !this.statement.keysMayRepeat;
    for (const member of queue.pending) {
      const keys = this.statement.keys(member.request);
      const texts = distinct ? keys.map((k) => `${k.table}\u0000${k.keyTexts.join('\u0000')}`) : [];
      const size = this.statement.bytes ? this.statement.bytes(member.request) : keys.reduce((n, k) => n + keyBytes(k.keyTexts), 0);
      const fits = members.length === 0 || (rows + keys.length <= this.limits.rows && bytes + size <= this.limits.bytes && !texts.some((t) => taken.has(t)));
      if (!fits) {
        rest.push(member);
        continue;
      }
      members.push(member);
      rows += keys.length;
      bytes += size;
      for (const t of texts) taken.add(t);
    }
    queue.pending = rest;
    return members;
  }

  private async run(queue: Queue<Request, Result>, members: Member<Request, Result>[]): Promise<void> {
    try {
      const results = await this.statement.run(queue.shard, members.map((m) => m.request));
      members.forEach((member, i) => settle(member, results[i]!));
    } catch (error) {
      if (members.length === 1 || !outcomeKnown(error)) {
        for (const member of members) member.reject(error);
        return;
      }
      await Promise.all(
        members.map((member) =>
          this.statement.run(queue.shard, [member.request]).then(
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

/** The shard answered with an error: the statement's local transaction rolled back, nothing of the statement took effect. */
function outcomeKnown(error: unknown): boolean {
  return !(error instanceof ShardUnavailableError) && !isConnectionError(error);
}
