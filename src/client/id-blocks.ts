import { setTimeout as sleep } from 'node:timers/promises';
import { CommitUndeterminedError, DatabaseClosedError, isRetryable, SequenceExhaustedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TableMeta } from '../schema/table-meta.js';
import type { EngineTransaction, TransactionEngine } from '../txn/engine-contract.js';
import type { GeneratedIdSpec } from './generated-id-spec.js';
import { backoffDelayMs } from './retry-backoff.js';

/** Values a client claims per column at a time (TiDB's AUTO_INCREMENT cache is 30,000; Postgres sequences cache 1). */
export const ID_BLOCK_SIZE = 1000;
/** Attempts of one claim before its last error is thrown (claims of one column by many clients conflict). */
const MAX_CLAIM_ATTEMPTS = 30;
const CLAIM_BACKOFF = { initialMs: 2, maxMs: 200 };

/**
 * @internal Serial and identity values of one client, TiDB-style: each
 * column's values come from blocks of `blockSize` consecutive sequence
 * values claimed from its allocator row (schema/id-blocks-table.ts) in a
 * Percolator transaction of their own, outside any user transaction (a
 * rolled-back insert leaves a gap, as with a Postgres sequence). Blocks
 * never overlap, so values are unique across clients and shards; a client
 * hands out its blocks in the order it claimed them, and every claim comes
 * after the previous one, so its values increase. When fewer than half a
 * block is left the next block is claimed in the background, so inserts
 * wait for a claim only when a block runs out faster than one can be
 * claimed (or on the first insert).
 */
export class IdBlocks {
  private readonly sequences = new Map<string, IdSequence>();
  private closed = false;

  constructor(
    private readonly engine: TransactionEngine,
    private readonly allocator: TableMeta,
    private readonly logger: Logger,
    private readonly blockSize = ID_BLOCK_SIZE,
  ) {}

  /** `count` new values of a column, in increasing order (synchronously when the cached blocks hold them). */
  take(spec: GeneratedIdSpec, count: number): bigint[] | Promise<bigint[]> {
    if (this.closed) throw new DatabaseClosedError('the database was closed');
    let sequence = this.sequences.get(spec.name);
    if (!sequence) this.sequences.set(spec.name, (sequence = new IdSequence(spec, this.blockSize, (n) => this.claim(spec, n), this.logger)));
    return sequence.take(count);
  }

  /** Waits for claims in flight (db.close() closes the engine afterwards). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.sequences.values()].map((s) => s.idle()));
  }

  /** Claims up to `count` values after the last claimed one; retries conflicts with other clients' claims. */
  private async claim(spec: GeneratedIdSpec, count: number): Promise<Block> {
    for (let attempt = 0; ; attempt++) {
      let tx: EngineTransaction | undefined;
      try {
        tx = await this.engine.begin({ isolation: 'snapshot' });
        const [row] = await tx.getMany(this.allocator, [[spec.name]]);
        const next = row ? (row.nextId as bigint) : spec.start;
        if (next > spec.max) throw new SequenceExhaustedError(spec.name, spec.max);
        const n = minBigint(BigInt(count), (spec.max - next) / spec.increment + 1n);
        tx.put(this.allocator, [{ name: spec.name, nextId: next + n * spec.increment }]);
        await tx.commit();
        return { next, last: next + (n - 1n) * spec.increment, increment: spec.increment };
      } catch (error) {
        if (tx && !tx.closed) await tx.rollback().catch(() => {});
        // An undetermined claim is simply not used: at worst its values are a gap.
        const again = isRetryable(error) || error instanceof CommitUndeterminedError;
        if (!again || attempt + 1 >= MAX_CLAIM_ATTEMPTS) throw error;
        await sleep(backoffDelayMs(attempt, CLAIM_BACKOFF));
      }
    }
  }
}

/** Consecutive sequence values `next, next + increment, ..., last`. */
interface Block {
  next: bigint;
  readonly last: bigint;
  readonly increment: bigint;
}

/** One column's cached blocks, handed out in claim order. */
class IdSequence {
  private readonly blocks: Block[] = [];
  private available = 0;
  private claiming: Promise<void> | undefined;
  /** Takers waiting for a claim, served one after another. */
  private queue: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  constructor(
    private readonly spec: GeneratedIdSpec,
    private readonly blockSize: number,
    private readonly claim: (count: number) => Promise<Block>,
    private readonly logger: Logger,
  ) {}

  take(count: number): bigint[] | Promise<bigint[]> {
    if (this.waiting === 0 && this.available >= count) {
      const ids = this.takeNow(count);
      this.prefetch();
      return ids;
    }
    this.waiting++;
    const taken = this.queue.then(() => this.takeWaiting(count)).finally(() => this.waiting--);
    this.queue = taken.catch(() => {});
    return taken;
  }

  async idle(): Promise<void> {
    await this.claiming?.catch(() => {});
  }

  private async takeWaiting(count: number): Promise<bigint[]> {
    const ids: bigint[] = [];
    while (ids.length < count) {
      if (this.available === 0) await this.refill(count - ids.length);
      ids.push(...this.takeNow(Math.min(count - ids.length, this.available)));
    }
    this.prefetch();
    return ids;
  }

  private takeNow(count: number): bigint[] {
    const ids = new Array<bigint>(count);
    for (let i = 0; i < count; i++) {
      const block = this.blocks[0]!;
      ids[i] = block.next;
      if (block.next === block.last) this.blocks.shift();
      else block.next += block.increment;
    }
    this.available -= count;
    return ids;
  }

  /** Claims the next block in the background when less than half a block is left. */
  private prefetch(): void {
    if (this.claiming || this.available >= this.blockSize / 2) return;
    this.refill(this.blockSize).catch((error: unknown) => {
      // The next taker that runs out claims again, and meets the error if it persists.
      this.logger.warn({ err: error, sequence: this.spec.name }, 'claiming a block of ids failed');
    });
  }

  /** One claim at a time: blocks join in the order they were claimed, so values keep increasing. */
  private refill(needed: number): Promise<void> {
    this.claiming ??= this.claim(Math.max(needed, this.blockSize))
      .then((block) => {
        this.blocks.push(block);
        this.available += Number((block.last - block.next) / block.increment + 1n);
      })
      .finally(() => (this.claiming = undefined));
    return this.claiming;
  }
}

function minBigint(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
