import type { Logger } from '../src/logger.js';
import type { BenchEnvironment } from './bench-environment.js';
import { measureInProcesses } from './client-processes.js';
import { describe, measureRun, type Measured } from './measure-run.js';
import type { Progress } from './progress.js';
import { seededRandom } from './random.js';
import { round3, RunRecorder } from './run-recorder.js';
import type { RebalanceOutcome, RunResult } from './run-result.js';
import { scheduleRebalance, throughputAround } from './rebalance-run.js';
import type { SystemName } from './systems/bench-system.js';
import { createSystem } from './systems/create-system.js';
import { workloadContext, type ContextConfig } from './workload-context.js';

export interface RunConfig extends ContextConfig {
  readonly system: SystemName;
  /** Clients per process. */
  readonly clients: number;
  /** Client processes (--processes); 1 = the clients run in this process. */
  readonly processes: number;
  readonly seed: number;
  readonly warmupS: number;
  readonly durationS: number;
  /** 1-based: which turn of the systems this run was (--rounds). */
  readonly round: number;
  /** --rebalance-at: seconds into the measured window to add the spare server as a shard (systems that can). */
  readonly rebalanceAtS?: number | undefined;
}

/** One system on one workload and configuration: create and load the table, warm up, measure, drop. Never throws: failures become the result's `error`. */
export async function runOne(config: RunConfig, env: BenchEnvironment, progress: Progress, logger: Logger, signal?: AbortSignal): Promise<RunResult> {
  const { workload } = config;
  const { table, shardOf, context } = workloadContext(config);
  const recorder = new RunRecorder();
  let measured: Measured | undefined;
  let error: string | undefined;
  let system;
  let rebalance: RebalanceOutcome | undefined;
  try {
    const spareShard = config.rebalanceAtS !== undefined && config.system.startsWith('percolator');
    system = createSystem(config.system, { environment: env, shards: config.shards, clients: config.clients, shardOf, logger, spareShard });
    progress.note(`${config.system}: loading ${config.keys.toLocaleString('en-US')} rows...`);
    await system.createTable(table, workload.rows(context, seededRandom(config.seed, 0)));
    await system.checkpoint();
    progress.track(config.system, recorder, config.warmupS, config.durationS);
    const rebalancing = spareShard && system.addShardAndRebalance ? scheduleRebalance(system, env.shardUrls[config.shards]!, config.rebalanceAtS!, recorder, signal) : undefined;
    measured =
      config.processes > 1
        ? await measureInProcesses({ config: { ...config, workload: workload.name }, seed: config.seed, processes: config.processes, warmupS: config.warmupS, durationS: config.durationS, signal }, env, system, recorder)
        : await measureRun(
            { system, workload, context, clients: config.clients, warmupS: config.warmupS, durationS: config.durationS, seed: config.seed, ...(signal ? { signal } : {}) },
            recorder,
          );
    if (rebalancing) {
      const done = await rebalancing;
      const rowsPerShard = done.error ? [] : await system.rowsPerShard!();
      rebalance = { ...done, ...throughputAround(recorder.timeline(), done.atS, done.endS), rowsPerShard };
    }
  } catch (e) {
    error = describe(e);
  } finally {
    progress.stop();
    if (system) {
      await system.dropTable(table).catch(() => {});
      await system.close().catch(() => {});
    }
  }
  const result = { ...toResult(config, recorder, measured, error), ...(rebalance ? { rebalance } : {}) };
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
    ...(config.processes > 1 ? { processes: config.processes } : {}),
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
      ...(cpu?.relayMs ? { relay: round3(cpu.relayMs) } : {}),
    },
    timeline: recorder.timeline(),
    ...(error ? { error } : {}),
  };
}
