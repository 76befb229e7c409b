import type { Timestamp } from '../timestamp.js';
import type { EngineContext } from './engine-context.js';
import type { Mutation } from './mutation.js';

/**
 * Keeps a long commit's primary lock alive: every ttl/3 the primary's TTL
 * is raised to (time since the lock was written + ttl). The statement uses
 * greatest(), so the TTL never decreases. A failed beat is only logged: if
 * the lock expires, a resolver may roll us back and commitPrimary then
 * fails with TransactionAbortedError.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: EngineContext,
    private readonly startTs: Timestamp,
    private readonly primary: Mutation,
  ) {}

  start(): void {
    if (!this.ctx.heartbeat) return;
    const interval = Math.max(1, Math.floor(this.ctx.lockTtlMs / 3));
    this.timer = setInterval(() => void this.beat(), interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async beat(): Promise<void> {
    const shard = this.ctx.shards[this.primary.shard]!;
    try {
      await shard.query(this.primary.storage.heartbeat(this.startTs, this.primary.keyTexts, this.ctx.lockTtlMs), { prepare: true });
    } catch (error) {
      this.ctx.logger.warn({ err: error }, 'heartbeat of the primary lock failed');
    }
  }
}
