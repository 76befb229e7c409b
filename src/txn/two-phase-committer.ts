import { performance } from 'node:perf_hooks';
import { CommitUndeterminedError, PercolatorError, SchemaVersionError, TransactionAbortedError } from '../errors.js';
import { timestampFor } from '../oracle/timestamp-for.js';
import type { Logger } from '../logger.js';
import { formatTimestamp, type Timestamp } from '../timestamp.js';
import { commitPrimary, CommitTsPushedError } from './commit-primary.js';
import { commitSecondaries } from './commit-secondaries.js';
import type { EngineContext } from './engine-context.js';
import type { IsolationLevel } from './engine-contract.js';
import { Heartbeat } from './heartbeat.js';
import type { CommitInFlight } from './local-commits.js';
import type { Mutation } from './mutation.js';
import { prewriteShard } from './prewrite.js';
import type { ReadSet } from './read-set.js';
import { planReadValidation, runReadValidation, type ReadValidationInput } from './read-validation.js';
import { rollbackShards } from './rollback.js';
import { fitsOneChunk } from './table-chunks.js';

export interface CommitRequest {
  readonly startTs: Timestamp;
  readonly isolation: IsolationLevel;
  readonly readSet: ReadSet;
  /** Whether the transaction holds a pessimistic lock on a key (prewrite checks such a key from its for_update_ts). */
  readonly pessimisticallyLocked?: ((table: string, keyId: string) => boolean) | undefined;
  /** Mutations grouped by shard, each group in (table, key) order. */
  readonly groups: ReadonlyMap<number, readonly Mutation[]>;
  /** The primary chosen by the first locking read (one of the mutations); default: the first mutation. */
  readonly primary?: Mutation | undefined;
  readonly logger: Logger;
}

/**
 * Percolator two-phase commit, top to bottom:
 *   1. prewrite every shard (primary's shard included), in parallel;
 *   2. commit_ts from the oracle;
 *   3. read validation (serializable);
 *   4. commitPrimary: the commit point;
 *   5. commitSecondaries, in the background.
 * A failure before 4 rolls back what was prewritten. Step 4 commits every
 * key of the primary's shard (when they fit in one statement), so a
 * transaction whose keys all live on one shard has no secondaries
 * (docs/DESIGN.md explains why prewrite is still needed there).
 */
export class TwoPhaseCommitter {
  private readonly primary: Mutation;
  private readonly hookInfo: { startTs: Timestamp; commitTs?: Timestamp; primaryShard: number; shards: number[] };

  constructor(
    private readonly ctx: EngineContext,
    private readonly request: CommitRequest,
  ) {
    const [firstShard] = [...request.groups.keys()];
    this.primary = request.primary ?? request.groups.get(firstShard!)![0]!;
    this.hookInfo = { startTs: request.startTs, primaryShard: this.primary.shard, shards: [...request.groups.keys()] };
  }

  async execute(): Promise<Timestamp> {
    // Readers of this process that meet our locks wait for the outcome here instead of pushing us.
    const inFlight = this.ctx.localCommits.begin(this.request.startTs);
    try {
      const commitTs = await this.commit(inFlight);
      if (this.request.groups.size === 1) inFlight.finish({ kind: 'committed', commitTs }, true);
      return commitTs;
    } catch (error) {
      // Before the commit point every failure means we never commit; after it, only an undetermined one is unknown.
      inFlight.finish(error instanceof CommitUndeterminedError ? { kind: 'unknown' } : { kind: 'rolled-back' });
      throw error;
    }
  }

  private async commit(inFlight: CommitInFlight): Promise<Timestamp> {
    const { ctx, request, primary } = this;
    const heartbeat = new Heartbeat(ctx, request.startTs, primary);
    heartbeat.start();
    let commitTs: Timestamp;
    try {
      await this.timed('prewrite', () => this.prewrite());
      commitTs = await this.validatedCommitTimestamp();
      await ctx.hooks.beforeCommitPrimary?.(this.hookInfo);
    } catch (error) {
      heartbeat.stop();
      await rollbackShards(ctx, request.startTs, request.groups, primary);
      throw error;
    }
    const singleShard = request.groups.size === 1;
    // The commit point commits every key of the primary's shard when they fit in one statement: no secondaries left there.
    const primaryGroup = request.groups.get(primary.shard)!;
    const withPrimary = singleShard || fitsOneChunk(primaryGroup, { rows: ctx.chunkRows, bytes: ctx.chunkBytes });
    let pushes = 0;
    try {
      for (;;) {
        try {
          await this.timed('commit_primary', () => commitPrimary(ctx, request.startTs, commitTs, primary, withPrimary ? primaryGroup : undefined));
          break;
        } catch (error) {
          if (error instanceof TransactionAbortedError) {
            // Definitely not committed: clean up what is left (other shards'
            // locks, pessimistic rows) and mark the primary rolled back now
            // rather than leave readers and writers to wait for our TTL.
            await rollbackShards(ctx, request.startTs, request.groups, primary).catch((failure: unknown) =>
              request.logger.warn({ err: failure }, 'rollback after an aborted commit failed; resolvers will clean up'),
            );
            throw error;
          }
          if (!(error instanceof CommitTsPushedError)) throw error;
          // Still before the commit point; a fresh timestamp is above every pusher's snapshot.
          ctx.metrics.commitTsPushes.inc();
          commitTs = await this.validatedCommitTimestamp(++pushes).catch(async (failure: unknown) => {
            await rollbackShards(ctx, request.startTs, request.groups, primary);
            throw failure;
          });
        }
      }
    } finally {
      heartbeat.stop();
    }
    request.logger.debug({ commitTs: commitTs.toString() }, 'committed');
    inFlight.committed(commitTs);
    ctx.resolver.remember(request.startTs, { kind: 'committed', commitTs });
    await ctx.hooks.afterCommitPrimary?.(this.hookInfo);
    if (!singleShard) {
      const secondaries = new Map([...request.groups].filter(([shard]) => shard !== primary.shard));
      const primaryRest = withPrimary ? [] : primaryGroup.filter((m) => m !== primary);
      if (primaryRest.length > 0) secondaries.set(primary.shard, primaryRest);
      const written = this.timed('commit_secondaries', () => commitSecondaries(ctx, request.startTs, commitTs, secondaries, this.hookInfo));
      ctx.track(written.then((allWritten) => inFlight.finish({ kind: 'committed', commitTs }, allWritten), () => inFlight.finish({ kind: 'committed', commitTs })));
    }
    return commitTs;
  }

  /** All shards in parallel; with an afterPrewritePrimary hook, the primary's shard first. */
  private async prewrite(): Promise<void> {
    const { ctx, request, primary } = this;
    // A primary chosen by a locking read means durable pessimistic lock rows on its shard.
    const prewriteRequest = { startTs: request.startTs, primary, ttlMs: ctx.lockTtlMs, lazyPrimaryShard: request.primary === undefined };
    const others = [...request.groups].filter(([shard]) => shard !== primary.shard);
    const prewritePrimaryShard = () => prewriteShard(ctx, primary.shard, request.groups.get(primary.shard)!, prewriteRequest);
    if (ctx.hooks.afterPrewritePrimary) {
      await prewritePrimaryShard();
      await ctx.hooks.afterPrewritePrimary(this.hookInfo);
      await settleAll(others.map(([shard, mutations]) => prewriteShard(ctx, shard, mutations, prewriteRequest)));
    } else {
      await settleAll([prewritePrimaryShard(), ...others.map(([shard, mutations]) => prewriteShard(ctx, shard, mutations, prewriteRequest))]);
    }
    await ctx.hooks.afterPrewriteAll?.(this.hookInfo);
  }

  /**
   * commit_ts from the oracle, then read validation against it (serializable).
   * After `pushes` refusals by readers (a stream of new readers on a hot key
   * can push forever) the transaction gives up, retryably.
   */
  private async validatedCommitTimestamp(pushes = 0): Promise<Timestamp> {
    const { ctx, request } = this;
    if (pushes > MAX_COMMIT_TS_PUSHES) {
      throw new TransactionAbortedError(`transaction ${formatTimestamp(request.startTs)} gave up committing: readers pushed its commit_ts ${pushes} times`);
    }
    const commitTs = await this.timed('commit_ts', () => this.commitTimestamp());
    this.hookInfo.commitTs = commitTs;
    // Snapshot isolation validates nothing: no phase to time.
    if (request.isolation === 'snapshot') return commitTs;
    const validation: ReadValidationInput = {
      isolation: request.isolation,
      startTs: request.startTs,
      commitTs,
      readSet: request.readSet,
      mutations: [...request.groups.values()].flat(),
      pessimisticallyLocked: request.pessimisticallyLocked,
      shards: ctx.shards,
      storageOf: (name) => ctx.storageOf(name),
    };
    // Nor does a transaction whose reads its own prewritten locks cover (or that read nothing).
    const plan = planReadValidation(validation);
    if (plan.length > 0) await this.timed('validate', () => runReadValidation(validation, plan));
    return commitTs;
  }

  private commitTimestamp(): Promise<Timestamp> {
    return timestampFor(this.ctx.timestampSource, 'commit');
  }

  private async timed<T>(phase: string, work: () => Promise<T>): Promise<T> {
    // performance.now, not prom-client's startTimer: no closure, hrtime array or label copy per phase.
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.ctx.metrics.phaseSeconds.observe({ phase }, (performance.now() - start) / 1000);
    }
  }
}

const MAX_COMMIT_TS_PUSHES = 32;

/** Waits for every prewrite to settle (so rollback sees them all), then throws the most telling failure. */
async function settleAll(work: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(work);
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length === 0) return;
  // A unique violation is not retryable: report it over a retryable conflict. A fenced schema says most
  // (an old writer also fails on the storage of an index dropped since: a missing function).
  throw failures.find((f) => f instanceof SchemaVersionError) ?? failures.find((f) => f instanceof PercolatorError && !f.retryable) ?? failures[0];
}
