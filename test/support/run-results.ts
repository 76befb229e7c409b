import type { RunResult } from '../../bench/run-result.js';

/** A plausible run of bank; numbers scale with `scale` so that charts can be checked for the run they came from. */
export function runResult(system: RunResult['system'], clients: number, scale: number, round = 1): RunResult {
  return {
    system,
    workload: 'bank',
    clients,
    shards: 3,
    keys: 1000,
    zipf: 0,
    crossShardFraction: null,
    opsPerTxn: 1,
    round,
    durationS: 3,
    commits: 300 * scale,
    commitsByKind: { transfer: 285 * scale, audit: 15 * scale },
    throughput: 100 * scale,
    p50Ms: 2 * scale,
    p95Ms: 5 * scale,
    p99Ms: 9 * scale,
    maxMs: 20 * scale,
    meanMs: 3 * scale,
    latencyByKind: { transfer: { p50Ms: 2, p99Ms: 9 } },
    latencyPercentiles: [0, 50, 99, 100].map((percentile, i) => ({ percentile, ms: (i + 1) * scale })),
    aborts: 7 * scale,
    abortsByCause: system === 'local' ? { serialization: 7 * scale } : { 'write-conflict:locked': 4 * scale, 'lock-wait-timeout': 3 * scale },
    retries: 7 * scale,
    gaveUp: 0,
    errors: 0,
    errorSamples: [],
    anomalies: system === '2pc' ? 5 : 0,
    anomalySamples: [],
    roundTripsPerTxn: 3,
    cpuMsPerTxn: 1.5 * scale,
    cpuMs: { client: 100, oracle: 10, postgres: 340, total: 450 },
    timeline: [1, 2, 3].map((t) => ({ t, throughput: 90 * scale + t, aborts: t })),
  };
}
