import type { Logger } from '../src/logger.js';
import type { BenchEnvironment } from './bench-environment.js';
import { keyDistribution } from './key-distribution.js';
import { KeyPicker } from './key-picker.js';
import { describe, measureRun, type Measured } from './measure-run.js';
import { placementOf } from './placement.js';
import type { Progress } from './progress.js';
import { seededRandom } from './random.js';
import { round3, RunRecorder } from './run-recorder.js';
import type { RunResult } from './run-result.js';
import type { SystemName } from './systems/bench-system.js';
import { createSystem } from './systems/create-system.js';
import type { Workload, WorkloadContext } from './workloads/workload.js';

export interface RunConfig {
  readonly system: SystemName;
  readonly workload: Workload;
  readonly clients: number;
  readonly shards: number;
  readonly keys: number;
  readonly zipf: number;
  readonly crossShardFraction: number | undefined;
  readonly opsPerTxn: number;
  readonly auditShare: number;
  readonly seed: number;
  readonly warmupS: number;
  readonly durationS: number;
  /** Unique per run: the table's physical name. */
  readonly tableName: string;
  /** 1-based: which turn of the systems this run was (--rounds). */
  readonly round: number;
}

/** One system on one workload and configuration: create and load the table, warm up, measure, drop. Never throws: failures become the result's `error`. */
export async function runOne(config: RunConfig, env: BenchEnvironment, progress: Progress, logger: Logger, signal?: AbortSignal): Promise<RunResult> {
  const { workload } = config;
  const table = workload.table(config.tableName);
  const shardOf = placementOf(table, config.shards);
  const context: WorkloadContext = {
    table,
    keys: config.keys,
    picker: new KeyPicker(keyDistribution(config.keys, config.zipf), shardOf, config.shards, config.crossShardFraction),
    opsPerTxn: config.opsPerTxn,
    auditShare: config.auditShare,
  };
  const recorder = new RunRecorder();
  let measured: Measured | undefined;
  let error: string | undefined;
  let system;
  try {
    system = createSystem(config.system, { environment: env, shards: config.shards, clients: config.clients, shardOf, logger });
    progress.note(`${config.system}: loading ${config.keys.toLocaleString('en-US')} rows...`);
    await system.createTable(table, workload.rows(context, seededRandom(config.seed, 0)));
    await system.checkpoint();
    progress.track(config.system, recorder, config.warmupS, config.durationS);
    measured = await measureRun(
      { system, workload, context, clients: config.clients, warmupS: config.warmupS, durationS: config.durationS, seed: config.seed, ...(signal ? { signal } : {}) },
      recorder,
    );
  } catch (e) {
    error = describe(e);
  } finally {
    progress.stop();
    if (system) {
      await system.dropTable(table).catch(() => {});
      await system.close().catch(() => {});
    }
  }
  const result = toResult(config, recorder, measured, error);
  progress.done(error ? `${config.system} failed: ${error}` : `${config.system} ${Math.round(result.throughput).toLocaleString('en-US')} txn/s`);
  return result;
}

function toResult(config: RunConfig, recorder: RunRecorder, measured: Measured | undefined, error: string | undefined): RunResult {
  const cpu = measured?.cpu;
  const seconds = recorder.measuredSeconds();
  const latency = recorder.latency();
  const perTxn = (ms: number | undefined): number => (recorder.commits > 0 && ms !== undefined ? round3(ms / recorder.commits) : 0);
  return {
    system: config.system,
    workload: config.workload.name,
    clients: config.clients,
    shards: config.shards,
    keys: config.keys,
    zipf: config.zipf,
    crossShardFraction: config.crossShardFraction ?? null,
    opsPerTxn: config.opsPerTxn,
    round: config.round,
    durationS: round3(seconds),
    commits: recorder.commits,
    commitsByKind: recorder.commitsByKind,
    throughput: seconds > 0 ? Math.round((recorder.commits / seconds) * 10) / 10 : 0,
    p50Ms: latency.p50Ms,
    p95Ms: latency.p95Ms,
    p99Ms: latency.p99Ms,
    maxMs: latency.maxMs,
    meanMs: latency.meanMs,
    latencyPercentiles: latency.percentiles,
    latencyByKind: recorder.latencyByKind(),
    aborts: recorder.aborts,
    abortsByCause: recorder.abortsByCause,
    retries: recorder.aborts - recorder.gaveUp,
    gaveUp: recorder.gaveUp,
    errors: recorder.errors,
    errorSamples: recorder.errorSamples,
    anomalies: recorder.anomalies,
    anomalySamples: recorder.anomalySamples,
    roundTripsPerTxn: recorder.commits > 0 && measured ? Math.round((measured.roundTrips / recorder.commits) * 100) / 100 : 0,
    cpuMsPerTxn: perTxn(cpu?.totalMs),
    cpuMs: {
      client: round3(cpu?.clientMs ?? 0),
      oracle: round3(cpu?.oracleMs ?? 0),
      postgres: round3(cpu?.postgresMs ?? 0),
      total: round3(cpu?.totalMs ?? 0),
    },
    timeline: recorder.timeline(),
    ...(error ? { error } : {}),
  };
}
