import { fork, type ChildProcess } from 'node:child_process';
import { compiledPath } from '../src/package-root.js';
import type { BenchEnvironment } from './bench-environment.js';
import { cpuSpent, sampleCpu } from './cpu-accounting.js';
import type { Measured } from './measure-run.js';
import type { RecorderSnapshot, RunRecorder } from './run-recorder.js';
import type { BenchSystem, SystemName } from './systems/bench-system.js';
import type { ContextSettings } from './workload-context.js';
import type { WorkloadName } from './workloads/workload.js';

/**
 * `--processes N`: the run's clients in N processes of `clients` each, as
 * real deployments have many application servers (statements are shared
 * between transactions of one process only). The parent creates and loads
 * the table, starts the processes (client-process.ts), lets them warm up
 * once all are running, then opens and closes the measured window in all of
 * them at once and adds up what they measured; it samples the servers' and
 * the oracle's CPU itself, and the client CPU is the processes' sum.
 */

export interface ClientProcessConfig extends ContextSettings {
  readonly system: SystemName;
  readonly workload: WorkloadName;
  readonly clients: number;
  readonly seed: number;
  readonly shardUrls: readonly string[];
  readonly localUrl: string | undefined;
  readonly oracleAddress: string | undefined;
}

export type ParentMessage = { type: 'start' } | { type: 'stop' };
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'live'; commits: number }
  | { type: 'result'; snapshot: RecorderSnapshot; clientCpuMs: number; roundTrips: number }
  | { type: 'error'; message: string };

/** Seeds of process i's clients: apart from every other process's. */
const SEED_STRIDE = 1_000_003;
const EXIT_GRACE_MS = 30_000;

export interface ProcessRunSpec {
  readonly config: Omit<ClientProcessConfig, 'seed' | 'shardUrls' | 'localUrl' | 'oracleAddress'>;
  readonly seed: number;
  readonly processes: number;
  readonly warmupS: number;
  readonly durationS: number;
  readonly signal?: AbortSignal | undefined;
}

class ClientProcess {
  readonly child: ChildProcess;
  live = 0;
  private readonly ready: Promise<void>;
  readonly result: Promise<Extract<ChildMessage, { type: 'result' }>>;

  constructor(config: ClientProcessConfig) {
    const entry = compiledPath('bench/client-process');
    this.child = fork(entry, [JSON.stringify(config)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const exited = new Promise<never>((_, reject) => this.child.once('exit', (code) => reject(new Error(`client process exited (code ${code}) before it reported`))));
    let failed: ((error: Error) => void) | undefined;
    const failure = new Promise<never>((_, reject) => (failed = reject));
    let readyNow!: () => void;
    let resultNow!: (message: Extract<ChildMessage, { type: 'result' }>) => void;
    this.ready = Promise.race([new Promise<void>((resolve) => (readyNow = resolve)), exited, failure]);
    this.result = Promise.race([new Promise<Extract<ChildMessage, { type: 'result' }>>((resolve) => (resultNow = resolve)), exited, failure]);
    void this.ready.catch(() => {});
    void this.result.catch(() => {});
    this.child.on('error', (error) => failed!(error));
    this.child.on('message', (message: ChildMessage) => {
      if (message.type === 'ready') readyNow();
      else if (message.type === 'live') this.live = message.commits;
      else if (message.type === 'result') resultNow(message);
      else failed!(new Error(`client process failed: ${message.message}`));
    });
  }

  whenReady(): Promise<void> {
    return this.ready;
  }

  /** Waits for the process to exit, killing it after `graceMs`. */
  exit(graceMs: number): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      this.child.once('exit', () => (clearTimeout(timer), resolve()));
    });
  }

  send(message: ParentMessage): void {
    // It may be exiting already (its channel closing): a failed send is nothing to report.
    if (this.child.connected) this.child.send(message, (error) => void error);
  }
}

/** Runs the measured window in `processes` client processes; the recorder gets their sum. */
export async function measureInProcesses(spec: ProcessRunSpec, env: BenchEnvironment, system: BenchSystem, recorder: RunRecorder): Promise<Measured> {
  const children = Array.from(
    { length: spec.processes },
    (_, i) => new ClientProcess({ ...spec.config, seed: spec.seed + i * SEED_STRIDE, shardUrls: env.shardUrls, localUrl: env.localUrl, oracleAddress: env.oracleAddress }),
  );
  const live = setInterval(() => (recorder.liveCommits = children.reduce((n, c) => n + c.live, 0)), 250);
  try {
    await Promise.all(children.map((c) => c.whenReady()));
    await pause(spec.warmupS * 1000, spec.signal);
    const before = sampleCpu(system.processes);
    recorder.startMeasuring();
    for (const c of children) c.send({ type: 'start' });
    await pause(spec.durationS * 1000, spec.signal);
    for (const c of children) c.send({ type: 'stop' });
    recorder.stopMeasuring();
    const after = sampleCpu(system.processes);
    const results = await Promise.all(children.map((c) => c.result));
    for (const r of results) recorder.absorb(r.snapshot);
    const servers = cpuSpent(system.processes, before, after);
    const clientMs = results.reduce((n, r) => n + r.clientCpuMs, 0);
    return {
      cpu: { clientMs, oracleMs: servers.oracleMs, postgresMs: servers.postgresMs, relayMs: servers.relayMs, totalMs: clientMs + servers.oracleMs + servers.postgresMs },
      roundTrips: results.reduce((n, r) => n + r.roundTrips, 0),
    };
  } finally {
    clearInterval(live);
    for (const c of children) c.send({ type: 'stop' });
    // Each closes its connections and exits (its background commits finish first); past a grace period, it is killed.
    await Promise.all(children.map((c) => c.exit(EXIT_GRACE_MS)));
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
