import { performance } from 'node:perf_hooks';
import type { KeyTexts } from '../shard/key-text.js';
import type { Timestamp } from '../timestamp.js';
import type { EngineMetrics } from './engine-metrics.js';
import type { FoundLock } from './found-lock.js';
import { groupBy } from './group-by.js';
import type { LocalCommits } from './local-commits.js';
import { ROWS_STAND, within, type ReadVerdict } from './read-verdict.js';

/**
 * Locks of commits in flight in this process (local-commits.ts), met by a
 * read at `readTs`: waits up to `budgetMs` for each owner's outcome instead
 * of pushing it (and `versionsWaitMs` more for the versions of an owner
 * that committed; if one of its secondary commits failed, resolvers roll
 * those keys forward). Committed above readTs or rolled back: the rows read
 * stand. Committed at or below readTs: once its versions are written, its
 * keys are read again. An owner undecided in time (or undetermined) is
 * returned for the push path.
 */
export async function awaitLocalOwners(
  localCommits: LocalCommits,
  metrics: EngineMetrics,
  locks: readonly FoundLock[],
  readTs: Timestamp,
  readSentAt: number,
  budgetMs: number,
  versionsWaitMs: number,
): Promise<{ verdict: ReadVerdict; undecided: FoundLock[] }> {
  const byOwner = groupBy(locks, (lock) => lock.startTs);
  const undecided: FoundLock[] = [];
  const readAgain: KeyTexts[] = [];
  const deadline = performance.now() + Math.max(0, budgetMs);
  await Promise.all(
    [...byOwner].map(async ([owner, ownerLocks]) => {
      const commit = localCommits.get(owner);
      // Its lock outlived a commit that had settled before this read was sent: that secondary commit was lost (a shard restart).
      const lost = commit?.settledAt !== undefined && commit.settledAt < readSentAt;
      const outcome = commit && !lost ? await within(commit.decided, deadline) : undefined;
      if (outcome?.kind === 'rolled-back' || (outcome?.kind === 'committed' && outcome.commitTs > readTs)) {
        metrics.lockResolutions.inc({ outcome: 'awaited' }, ownerLocks.length);
        return;
      }
      // Its versions follow in one statement per shard: a fresh budget for them.
      if (outcome?.kind === 'committed' && commit && (await within(commit.settled.then(() => commit.allWritten), performance.now() + versionsWaitMs))) {
        metrics.lockResolutions.inc({ outcome: 'awaited' }, ownerLocks.length);
        readAgain.push(...ownerLocks.map((l) => l.keyTexts));
        return;
      }
      undecided.push(...ownerLocks);
    }),
  );
  return { verdict: readAgain.length > 0 ? { kind: 'read-keys-again', keys: readAgain } : ROWS_STAND, undecided };
}
