import { performance } from 'node:perf_hooks';
import type { Timestamp } from '../timestamp.js';

/** How a commit of this process ended, as far as a reader of its locks cares. */
export type LocalOutcome =
  | { readonly kind: 'committed'; readonly commitTs: Timestamp }
  /** It will never commit (its locks are being removed, or resolvers will remove them). */
  | { readonly kind: 'rolled-back' }
  /** Commit undetermined (a shard failed mid-commit): only the primary can tell. */
  | { readonly kind: 'unknown' };

/**
 * One commit in flight: registered before its first lock is written, decided
 * at the commit point (or when it gives up), settled once every key of it
 * has its version (secondaries committed) or nothing more will be written.
 */
export class CommitInFlight {
  readonly decided: Promise<LocalOutcome>;
  readonly settled: Promise<void>;
  /** Whether every key got its version (false: a secondary commit failed, its locks wait for resolvers). */
  allWritten = false;
  /** When it settled (performance.now()): a read sent later that still meets its lock met a lost secondary commit. */
  settledAt: number | undefined;
  private decide!: (outcome: LocalOutcome) => void;
  private settle!: () => void;
  private done = false;

  constructor(private readonly onSettled: () => void) {
    this.decided = new Promise((resolve) => (this.decide = resolve));
    this.settled = new Promise((resolve) => (this.settle = resolve));
  }

  committed(commitTs: Timestamp): void {
    this.decide({ kind: 'committed', commitTs });
  }

  /** Ends the commit: `outcome` if it was not decided before (a promise settles once). */
  finish(outcome: LocalOutcome, allWritten = false): void {
    if (this.done) return;
    this.done = true;
    this.allWritten = allWritten;
    this.settledAt = performance.now();
    this.decide(outcome);
    this.settle();
    this.onSettled();
  }
}

/**
 * The commits this process has in flight, by start_ts. A snapshot read that
 * meets a lock of one of them waits for its outcome here instead of pushing
 * its primary (lock-resolver.ts): a push is a durable write on the primary's
 * shard, and an owner that took its commit_ts before the push must fetch a
 * new one and commit again, so a reader of busy keys (an audit meets every
 * lock of a shard) would cost several statements per lock it meets. Waiting
 * costs nothing but the time the owner needs to reach its commit point,
 * which is the next few milliseconds: its locks exist only during commit.
 */
export class LocalCommits {
  private readonly inFlight = new Map<Timestamp, CommitInFlight>();
  /**
   * The most recent finished ones: a reader whose statement saw a lock just
   * before its owner finished still learns the outcome here, without a
   * statement (checkTxnStatus) or a roll-forward write (applyStatus).
   */
  private readonly finished = new Map<Timestamp, CommitInFlight>();

  constructor(private readonly keepFinished = 4096) {}

  /** Registers `startTs`'s commit; call before its first prewrite is sent. */
  begin(startTs: Timestamp): CommitInFlight {
    const commit = new CommitInFlight(() => {
      this.inFlight.delete(startTs);
      if (this.finished.size >= this.keepFinished) this.finished.delete(this.finished.keys().next().value!);
      this.finished.set(startTs, commit);
    });
    this.inFlight.set(startTs, commit);
    return commit;
  }

  get(startTs: Timestamp): CommitInFlight | undefined {
    return this.inFlight.get(startTs) ?? this.finished.get(startTs);
  }
}
