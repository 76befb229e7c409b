import { setTimeout as sleep } from 'node:timers/promises';
import { describe } from './measure-run.js';
import type { RunRecorder } from './run-recorder.js';
import type { RebalanceOutcome, RunResult } from './run-result.js';
import type { BenchSystem } from './systems/bench-system.js';

/** Throughput below this share of the mean before the rebalance counts as the dip. */
const DIP_SHARE = 0.8;

/**
 * --rebalance-at: once the measured window has run `atS` seconds, adds the
 * spare server as a shard and rebalances onto it while the clients go on.
 * Settles with when it started and ended (seconds into the window) and
 * what moved; never rejects (a failure is the outcome's `error`).
 */
export function scheduleRebalance(system: BenchSystem, spareUrl: string, atS: number, recorder: RunRecorder, signal?: AbortSignal): Promise<Omit<RebalanceOutcome, 'throughputBefore' | 'throughputDuring' | 'throughputAfter' | 'throughputMin' | 'dipSeconds' | 'rowsPerShard'>> {
  return (async () => {
    while (!recorder.isMeasuring || recorder.measuredSeconds() < atS) {
      if (signal?.aborted) return { atS, endS: atS, slotsMoved: 0, rowsCopied: 0, error: 'interrupted before the rebalance' };
      await sleep(50);
    }
    const startedS = recorder.measuredSeconds();
    try {
      const moved = await system.addShardAndRebalance!(spareUrl);
      return { atS: startedS, endS: recorder.measuredSeconds(), ...moved };
    } catch (error) {
      return { atS: startedS, endS: recorder.measuredSeconds(), slotsMoved: 0, rowsCopied: 0, error: describe(error) };
    }
  })();
}

/** The dip: mean throughput before, during and after, the lowest second from the start on, and how many seconds fell below 80% of before. */
export function throughputAround(timeline: RunResult['timeline'], atS: number, endS: number): Pick<RebalanceOutcome, 'throughputBefore' | 'throughputDuring' | 'throughputAfter' | 'throughputMin' | 'dipSeconds'> {
  const mean = (points: RunResult['timeline']) => (points.length ? Math.round(points.reduce((n, p) => n + p.throughput, 0) / points.length) : 0);
  // Each point is the second ending at t.
  const before = timeline.filter((p) => p.t <= atS);
  const during = timeline.filter((p) => p.t > atS && p.t <= Math.ceil(endS));
  const after = timeline.filter((p) => p.t > atS);
  const baseline = mean(before);
  return {
    throughputBefore: baseline,
    throughputDuring: mean(during),
    throughputAfter: mean(timeline.filter((p) => p.t > Math.ceil(endS))),
    throughputMin: after.length ? Math.min(...after.map((p) => p.throughput)) : 0,
    dipSeconds: after.filter((p) => p.throughput < baseline * DIP_SHARE).length,
  };
}

/** Lines for the terminal report: one per run with a rebalance. */
export function rebalanceLines(results: readonly RunResult[]): string {
  const lines = results.flatMap((r) => {
    const b = r.rebalance;
    if (!b) return [];
    const head = `${r.system} (${r.workload}, round ${r.round}): shard added at ${b.atS.toFixed(1)}s, rebalanced by ${b.endS.toFixed(1)}s (${(b.endS - b.atS).toFixed(1)}s)`;
    if (b.error) return [`${head}: FAILED: ${b.error}`];
    return [
      `${head}: ${b.slotsMoved} slots, ${b.rowsCopied} rows copied`,
      `  throughput ${b.throughputBefore} txn/s before, ${b.throughputDuring} during, ${b.throughputAfter} after; lowest second ${b.throughputMin}; ${b.dipSeconds}s below ${DIP_SHARE * 100}% of before`,
      `  rows per shard at the end: ${b.rowsPerShard.join(' / ')} (spread ${spread(b.rowsPerShard)} of the mean); anomalies ${r.anomalies}, failed transactions ${r.errors + r.gaveUp}`,
    ];
  });
  return lines.length ? `rebalance during the run:\n${lines.join('\n')}\n` : '';
}

/** (max - min) / mean, as a percentage. */
export function spread(rows: readonly number[]): string {
  const mean = rows.reduce((a, b) => a + b, 0) / Math.max(1, rows.length);
  return mean > 0 ? `${(((Math.max(...rows) - Math.min(...rows)) / mean) * 100).toFixed(1)}%` : 'n/a';
}
