/**
 * One client process of `percolator bench --processes N`: attaches to the
 * table the parent created and loaded, runs `clients` closed-loop clients
 * until the parent says stop, and measures what happened between the
 * parent's start and stop (client-processes.ts). Started with fork() by
 * the parent, never by hand.
 */
import { createCliLogger } from '../src/logger.js';
import type { BenchEnvironment } from './bench-environment.js';
import type { ChildMessage, ClientProcessConfig, ParentMessage } from './client-processes.js';
import { measureRun } from './measure-run.js';
import { RunRecorder } from './run-recorder.js';
import { createSystem } from './systems/create-system.js';
import { workloadContext } from './workload-context.js';
import { workloads } from './workloads/index.js';

const LIVE_INTERVAL_MS = 1000;

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => process.send!(message, undefined, {}, () => resolve()));
}

async function main(config: ClientProcessConfig): Promise<void> {
  const workload = workloads[config.workload];
  const { table, shardOf, context } = workloadContext({ ...config, workload });
  // Servers and the oracle are the parent's to account: none listed here, so this process measures only its own CPU.
  const environment: BenchEnvironment = {
    shardUrls: config.shardUrls,
    shardProcesses: config.shardUrls.map(() => undefined),
    localUrl: config.localUrl,
    relayProcesses: [],
    localProcess: undefined,
    oracleAddress: config.oracleAddress,
    oracleProcess: undefined,
    notes: [],
    close: async () => {},
  };
  const system = createSystem(config.system, { environment, shards: config.shards, clients: config.clients, shardOf, logger: createCliLogger() });
  let start!: () => void;
  let end!: () => void;
  const window = { start: new Promise<void>((resolve) => (start = resolve)), end: new Promise<void>((resolve) => (end = resolve)) };
  process.on('message', (message: ParentMessage) => (message.type === 'start' ? start() : end()));
  // The parent going away ends the window too.
  process.on('disconnect', () => (start(), end()));
  const recorder = new RunRecorder();
  try {
    await system.attach(table);
    await send({ type: 'ready' });
    const live = setInterval(() => void send({ type: 'live', commits: recorder.liveCommits }), LIVE_INTERVAL_MS);
    try {
      const measured = await measureRun({ system, workload, context, clients: config.clients, warmupS: 0, durationS: 0, seed: config.seed, window }, recorder);
      await send({ type: 'result', snapshot: recorder.snapshot(), clientCpuMs: measured.cpu.clientMs, roundTrips: measured.roundTrips });
    } finally {
      clearInterval(live);
    }
  } finally {
    await system.close().catch(() => {});
  }
}

main(JSON.parse(process.argv[2]!) as ClientProcessConfig).then(
  () => process.exit(0),
  async (error: unknown) => {
    await send({ type: 'error', message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }).catch(() => {});
    process.exit(1);
  },
);
