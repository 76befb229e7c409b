import { setTimeout as sleep } from 'node:timers/promises';
import { isRetryable, PercolatorError, PlacementChangedError } from '../errors.js';
import type { Logger } from '../logger.js';
import { formatTimestamp, type Timestamp } from '../timestamp.js';
import type { EngineTransaction, IsolationLevel, TransactionEngine } from '../txn/engine-contract.js';
import type { ClientMetrics } from './client-metrics.js';
import { backoffDelayMs, type RetryBackoff } from './retry-backoff.js';

/** How often one unit of work is run again because a shard refused a slot, before the error reaches the caller. */
const MAX_PLACEMENT_RETRIES = 50;

/** @internal How one db.transaction (or auto-commit query) is run. */
export interface RunOptions {
  readonly isolation: IsolationLevel;
  readonly maxRetries: number;
  readonly backoff: Required<RetryBackoff>;
  /** Read-only at this timestamp (db.asOf). */
  readonly readTs?: Timestamp;
  /** With readTs: read from the shards' standbys (db.asOf(ts, { standby: true })). */
  readonly standby?: boolean;
}

/**
 * @internal Runs a unit of work in an engine transaction and commits it;
 * on a retryable error (nothing of the attempt committed) rolls back, waits
 * a jittered exponential backoff and runs the whole work again, at most
 * `maxRetries` more times. Never retries anything else, in particular
 * CommitUndeterminedError (the attempt may have committed). A shard that
 * refused a slot (PlacementChangedError: a stale map, a slot moving) is not
 * the caller's concern: the map is read again and the work run again at
 * once, up to MAX_PLACEMENT_RETRIES times, not counted in `maxRetries`.
 */
export class TransactionRunner {
  constructor(
    private readonly engine: TransactionEngine,
    private readonly metrics: ClientMetrics,
    private readonly logger: Logger,
  ) {}

  async run<T>(work: (engineTx: EngineTransaction) => Promise<T>, options: RunOptions): Promise<T> {
    let placementRetries = 0;
    for (let attempt = 0; ; attempt++) {
      let engineTx: EngineTransaction | undefined;
      let committing = false;
      try {
        engineTx = await this.engine.begin({ isolation: options.isolation, readTs: options.readTs, standby: options.standby });
        const result = await work(engineTx);
        committing = true;
        await engineTx.commit();
        this.metrics.transactions.inc({ outcome: 'committed' });
        return result;
      } catch (error) {
        // Once commit has started only a retryable error proves nothing was committed.
        if (engineTx && (!committing || isRetryable(error))) await this.rollbackQuietly(engineTx);
        if (error instanceof PlacementChangedError && placementRetries++ < MAX_PLACEMENT_RETRIES) {
          this.engine.recordRetry(error.code);
          await this.engine.placement.refresh();
          // A slot being moved is refused until the map switches: wait a little once the map is current.
          if (placementRetries > 1) await sleep(backoffDelayMs(Math.min(placementRetries - 2, 6), options.backoff));
          attempt--;
          continue;
        }
        if (!isRetryable(error) || attempt >= options.maxRetries) {
          this.metrics.transactions.inc({ outcome: committing || isRetryable(error) ? 'failed' : 'rolled_back' });
          throw error;
        }
        const code = (error as PercolatorError).code;
        this.engine.recordRetry(code);
        const delayMs = backoffDelayMs(attempt, options.backoff);
        this.logger.debug(
          { attempt: attempt + 1, maxRetries: options.maxRetries, code, startTs: engineTx && formatTimestamp(engineTx.startTs), delayMs: Math.round(delayMs) },
          'retrying transaction after a retryable error',
        );
        await sleep(delayMs);
      }
    }
  }

  private async rollbackQuietly(engineTx: EngineTransaction): Promise<void> {
    try {
      await engineTx.rollback();
    } catch (error) {
      // Locks left behind are resolved by readers after their TTL.
      this.logger.warn({ err: error, startTs: formatTimestamp(engineTx.startTs) }, 'rollback failed; locks will expire');
    }
  }
}
