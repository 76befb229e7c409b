import { setTimeout as sleep } from 'node:timers/promises';
import type { Random } from './random.js';
import type { RunRecorder } from './run-recorder.js';
import type { BenchSystem } from './systems/bench-system.js';
import type { WorkloadTxn } from './workloads/workload.js';

/** A transaction that aborts this many times in a row is given up (counted, not retried further). */
export const MAX_ATTEMPTS = 50;

/**
 * Runs one workload transaction to commit, retrying retryable aborts with
 * jittered exponential backoff (0.5 ms doubling, capped at 64 ms) and counting
 * each abort by cause; the same policy for every system, so the systems'
 * own retry loops are turned off. Non-retryable errors propagate.
 */
export async function runToCommit(system: BenchSystem, txn: WorkloadTxn, recorder: RunRecorder, random: Random): Promise<'committed' | 'gave-up'> {
  for (let attempt = 1; ; attempt++) {
    let result: unknown;
    try {
      result = await system.attempt((tx) => txn.run(tx), { readOnly: txn.readOnly });
    } catch (error) {
      const cause = system.abortCause(error);
      if (cause === undefined) throw error;
      recorder.abort(cause);
      if (attempt >= MAX_ATTEMPTS) {
        recorder.giveUp();
        return 'gave-up';
      }
      await sleep(random.next() * 0.5 * 2 ** Math.min(attempt, 7));
      continue;
    }
    const anomaly = txn.check?.(result);
    if (anomaly !== undefined) recorder.anomaly(`${txn.kind}: ${anomaly}`);
    return 'committed';
  }
}
