import type { SystemName } from './systems/bench-system.js';
import type { WorkloadName } from './workloads/workload.js';

/** What one (system, workload, configuration) run measured; one entry of `--json`'s `results`. */
export interface RunResult {
  system: SystemName;
  workload: WorkloadName;
  /** Clients per client process. */
  clients: number;
  /** Client processes (--processes), when more than one. */
  processes?: number;
  /** Shards of the configuration (the local baselines always use one database). */
  shards: number;
  keys: number;
  zipf: number;
  crossShardFraction: number | null;
  opsPerTxn: number;
  /** 1-based turn of the systems (--rounds): runs of one round ran back to back, at the same machine speed. */
  round: number;
  /** Measured seconds (warm-up excluded). */
  durationS: number;
  /** Committed transactions in the measured window. */
  commits: number;
  commitsByKind: Record<string, number>;
  /** Committed transactions per second. */
  throughput: number;
  /** Latency of a transaction from its first attempt to its commit, retries included. */
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  latencyPercentiles: { percentile: number; ms: number }[];
  /** p50/p99 per kind of transaction (bank: transfer, audit). */
  latencyByKind: Record<string, { p50Ms: number; p99Ms: number }>;
  /** Attempts that aborted with a retryable error, and why. */
  aborts: number;
  abortsByCause: Record<string, number>;
  /** Attempts run again after an abort (aborts minus those given up on). */
  retries: number;
  /** Transactions given up after too many aborts. */
  gaveUp: number;
  /** Non-retryable failures (with a few samples). */
  errors: number;
  errorSamples: string[];
  /** Committed transactions whose results broke the workload's invariant (bank: an audit with a wrong total). */
  anomalies: number;
  anomalySamples: string[];
  /** Postgres round trips (statements) the client sent per committed transaction, aborted attempts included. */
  roundTripsPerTxn: number;
  /** CPU milliseconds per committed transaction, client + oracle + every Postgres process involved. */
  cpuMsPerTxn: number;
  /** relay: the delay relays of --rtt-ms (a simulated network), not in total. */
  cpuMs: { client: number; oracle: number; postgres: number; total: number; relay?: number };
  /** Commits and aborts per second of the measured window. */
  timeline: { t: number; throughput: number; aborts: number }[];
  /** --rebalance-at: the shard added during the run and what it did to throughput. */
  rebalance?: RebalanceOutcome;
  /** Set when the run could not be done (system failed to start, fatal errors). */
  error?: string;
}

/** A shard added and rebalanced onto during the measured window (--rebalance-at). */
export interface RebalanceOutcome {
  /** Seconds into the measured window when the add started and the rebalance ended. */
  atS: number;
  endS: number;
  slotsMoved: number;
  rowsCopied: number;
  /** Mean committed txn/s of the seconds before, and of those during. */
  throughputBefore: number;
  throughputDuring: number;
  /** Mean committed txn/s of the seconds after (on the new shard count: on one machine, more servers share its cores). */
  throughputAfter: number;
  /** The lowest second from the start on. */
  throughputMin: number;
  /** Seconds from the start on below 80% of the mean before: the dip's length. */
  dipSeconds: number;
  /** Live rows per shard after the run, counted. */
  rowsPerShard: number[];
  error?: string;
}

export interface BenchReport {
  command: string;
  startedAt: string;
  machine: { cpus: number; node: string; platform: string };
  settings: Record<string, unknown>;
  sweep: { parameter: 'clients' | 'shards'; values: number[] } | null;
  results: RunResult[];
}

/** Postgres servers a run's system used: the shards, or the one database of the local baselines. */
export function serversOf(result: Pick<RunResult, 'system' | 'shards'>): number {
  return result.system.startsWith('local') ? 1 : result.shards;
}

/** Whether the results come from more than one round (--rounds): tables and charts then say which. */
export function severalRounds(results: readonly Pick<RunResult, 'round'>[]): boolean {
  return results.some((r) => r.round > 1);
}

/** The middle value (mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Clients of a run as shown: `16`, or `4x16` for 4 processes of 16 clients. */
export function clientsOf(r: Pick<RunResult, 'clients' | 'processes'>): string {
  return r.processes && r.processes > 1 ? `${r.processes}x${r.clients}` : String(r.clients);
}
