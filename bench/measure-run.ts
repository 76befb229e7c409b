import { setTimeout as sleep } from 'node:timers/promises';
import { cpuSpent, sampleCpu, type CpuSpent } from './cpu-accounting.js';
import { installRoundTripCounter, roundTrips } from './round-trip-counter.js';
import { seededRandom } from './random.js';
import { RunRecorder } from './run-recorder.js';
import { runToCommit } from './run-transaction.js';
import type { BenchSystem } from './systems/bench-system.js';
import type { Workload, WorkloadContext } from './workloads/workload.js';

/** Clients that fail this many transactions in a row with non-retryable errors stop the run. */
const FATAL_STREAK = 20;
/** After the measured window, in-flight transactions get this long to finish (a lock wait may be in progress). */
const DRAIN_MS = 30_000;

export interface MeasureSpec {
  readonly system: BenchSystem;
  readonly workload: Workload;
  readonly context: WorkloadContext;
  readonly clients: number;
  readonly warmupS: number;
  readonly durationS: number;
  readonly seed: number;
  /** Stops the run early (Ctrl-C); what was measured so far is kept. */
  readonly signal?: AbortSignal;
  /** When another process runs the clock (--processes): the measured window starts and ends with these, not after warmupS / durationS. */
  readonly window?: { readonly start: Promise<void>; readonly end: Promise<void> };
}

export class FatalRunError extends Error {}

/**
 * Drives `clients` concurrent sessions, each running the workload's
 * transactions back to back (closed loop, no think time) from its own
 * seeded random stream: warm-up first (not counted), then the measured
 * window, bracketed by CPU samples of every process involved.
 */
export interface Measured {
  readonly cpu: CpuSpent;
  /** Postgres round trips sent by the client during the measured window. */
  readonly roundTrips: number;
}

export async function measureRun(spec: MeasureSpec, recorder: RunRecorder): Promise<Measured> {
  installRoundTripCounter();
  const { system, workload, context } = spec;
  let stopping = false;
  let fatal: unknown;
  const stopAll = new AbortController();

  const client = async (index: number): Promise<void> => {
    const keys = seededRandom(spec.seed, 1 + index);
    const backoff = seededRandom(spec.seed, 100_000 + index);
    let streak = 0;
    while (!stopping) {
      const txn = workload.next(context, keys);
      const started = performance.now();
      try {
        const outcome = await runToCommit(system, txn, recorder, backoff);
        streak = 0;
        if (outcome === 'committed') recorder.commit(txn.kind, performance.now() - started);
      } catch (error) {
        const message = describe(error);
        recorder.error(message);
        if (++streak >= FATAL_STREAK && !stopping) {
          fatal = new FatalRunError(`${system.name}: ${FATAL_STREAK} transactions in a row failed; last error: ${message}`, { cause: error });
          stopping = true;
          stopAll.abort();
        }
      }
    }
  };

  const clients = Array.from({ length: spec.clients }, (_, i) => client(i));
  const wait = (until: number | Promise<void>): Promise<void> =>
    new Promise((resolve) => {
      const signals = [stopAll.signal, ...(spec.signal ? [spec.signal] : [])];
      if (signals.some((s) => s.aborted)) return resolve();
      const timer = typeof until === 'number' ? setTimeout(done, until) : undefined;
      if (typeof until !== 'number') void until.then(done);
      function done(): void {
        clearTimeout(timer);
        for (const s of signals) s.removeEventListener('abort', done);
        resolve();
      }
      for (const s of signals) s.addEventListener('abort', done, { once: true });
    });

  await wait(spec.window?.start ?? spec.warmupS * 1000);
  const before = sampleCpu(system.processes);
  const roundTripsBefore = roundTrips();
  recorder.startMeasuring();
  await wait(spec.window?.end ?? spec.durationS * 1000);
  recorder.stopMeasuring();
  const after = sampleCpu(system.processes);
  const roundTripsDuring = roundTrips() - roundTripsBefore;
  stopping = true;
  await Promise.race([Promise.all(clients), sleep(DRAIN_MS, undefined, { ref: false })]);
  if (fatal) throw fatal;
  return { cpu: cpuSpent(system.processes, before, after), roundTrips: roundTripsDuring };
}

export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return `${error.name}${typeof code === 'string' ? ` ${code}` : ''}: ${error.message}`;
}
