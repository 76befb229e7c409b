import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { parseCommandArgs } from '../../src/command-line/parse-command-args.js';
import { startOracleProcess, type OracleProcess } from '../../src/harness/oracle-process.js';
import { PostgresServer } from '../../src/harness/postgres-server.js';
import { createCliLogger } from '../../src/logger.js';
import { parseDurationFlagMs } from '../../src/command-line/duration.js';
import { compiledPath } from '../../src/package-root.js';
import type { LoadOptions, LoadResult } from './oracle-load-worker.js';

export const help = `usage: percolator bench oracle [options]

Measures the timestamp oracle: how many timestamps per second reach awaiting
callers when all of them share one batching client, and the latency of one
getTimestamp(). Starts a throwaway meta Postgres and an oracle process unless
--oracle is given; the load always runs in a separate node process.

  --duration <d>         measured time with batching (default 10s)
  --warmup <d>           unmeasured load before it (default 1s)
  --callers <n>          concurrent getTimestamp() loops in the client process (default 1000)
  --oracle <addr,...>    use running oracle(s) instead of starting one
  --token <token>        bearer token for --oracle
  --unary-callers <n>    concurrent unbatched unary callers (default 16)
  --unary-duration <d>   measured time for the unbatched phase (default 3s)
                         (durations: 500ms, 20s, 2m; a bare number is seconds)
  --json                 print one JSON object (timestampsPerSecond, rpcsPerSecond, p50Ms, p99Ms, ...)`;

export interface OracleBenchReport {
  callers: number;
  durationSeconds: number;
  timestampsPerSecond: number;
  rpcsPerSecond: number;
  meanBatchSize: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  errors: number;
  orderViolations: number;
  unaryCallers: number;
  unaryTimestampsPerSecond: number;
  unaryErrors: number;
  oracle: string;
  /** 1-minute load average of the machine before and after the run (others' work competes for the cores). */
  loadAverage: [number, number];
  /** CPU microseconds per delivered timestamp: the client process, and the oracle process (when the bench started it). */
  clientCpuUsPerTimestamp: number;
  oracleCpuUsPerTimestamp: number | null;
  cpus: number;
}

function parseOptions(argv: string[]) {
  return parseCommandArgs('bench oracle', {
    args: argv,
    strict: true,
    options: {
      duration: { type: 'string', default: '10s' },
      warmup: { type: 'string', default: '1s' },
      callers: { type: 'string', default: '1000' },
      oracle: { type: 'string' },
      token: { type: 'string' },
      'unary-callers': { type: 'string', default: '16' },
      'unary-duration': { type: 'string', default: '3s' },
      json: { type: 'boolean', default: false },
    },
  }, `\n${help}`)?.values;
}

export async function run(argv: string[]): Promise<number> {
  const values = parseOptions(argv);
  if (!values) return 2;
  const callers = Number(values.callers);
  const unaryCallers = Number(values['unary-callers']);
  if (!Number.isInteger(callers) || callers < 1 || !Number.isInteger(unaryCallers) || unaryCallers < 1) {
    console.error('percolator bench oracle: --callers and --unary-callers must be positive integers');
    return 2;
  }
  let durationMs: number, warmupMs: number, unaryDurationMs: number;
  try {
    durationMs = parseDurationFlagMs('--duration', values.duration!);
    warmupMs = parseDurationFlagMs('--warmup', values.warmup!);
    unaryDurationMs = parseDurationFlagMs('--unary-duration', values['unary-duration']!);
  } catch (error) {
    console.error(`percolator bench oracle: ${(error as Error).message}`);
    return 2;
  }
  const logger = createCliLogger();
  const say = (line: string): void => {
    if (!values.json) console.error(line);
  };

  let meta: PostgresServer | undefined;
  let oracle: OracleProcess | undefined;
  try {
    let addresses: string[];
    if (values.oracle) {
      addresses = values.oracle.split(',').map((a) => a.trim()).filter(Boolean);
    } else {
      say('starting a throwaway meta Postgres and an oracle process ...');
      meta = await PostgresServer.create({ logger });
      oracle = await startOracleProcess({ metaUrl: meta.url, logger });
      addresses = [oracle.address];
    }
    const load: LoadOptions = {
      addresses,
      callers,
      durationMs,
      warmupMs,
      unaryCallers,
      unaryDurationMs,
      token: values.token,
    };
    say(`driving ${addresses.join(', ')} with ${callers} callers for ${values.duration} (+${values.warmup} warm-up), then ${unaryCallers} unary callers for ${values['unary-duration']} ...`);
    const loadBefore = os.loadavg()[0]!;
    // The oracle's CPU over the measured window (read when the load process says it starts and ends).
    const oracleCpu: Partial<Record<'measure-start' | 'measure-end', number>> = {};
    const result = await runLoadProcess(load, (phase) => {
      const cpu = oracle ? processCpuMs(oracle.pid) : undefined;
      if (cpu !== undefined) oracleCpu[phase] = cpu;
    });
    const oracleCpuMs =
      oracleCpu['measure-start'] !== undefined && oracleCpu['measure-end'] !== undefined
        ? oracleCpu['measure-end'] - oracleCpu['measure-start']
        : undefined;
    const seconds = result.durationMs / 1000;
    const report: OracleBenchReport = {
      callers,
      durationSeconds: round(seconds, 2),
      timestampsPerSecond: Math.round(result.timestamps / seconds),
      rpcsPerSecond: Math.round(result.rpcs / seconds),
      meanBatchSize: round(result.timestamps / Math.max(1, result.rpcs), 1),
      p50Ms: result.latencyUs.p50 / 1000,
      p99Ms: result.latencyUs.p99 / 1000,
      p999Ms: result.latencyUs.p999 / 1000,
      maxMs: result.latencyUs.max / 1000,
      errors: result.errors,
      orderViolations: result.orderViolations,
      unaryCallers,
      unaryTimestampsPerSecond: Math.round(result.unary.calls / (result.unary.durationMs / 1000)),
      unaryErrors: result.unary.errors,
      oracle: addresses.join(','),
      loadAverage: [round(loadBefore, 2), round(os.loadavg()[0]!, 2)],
      cpus: os.cpus().length,
      clientCpuUsPerTimestamp: round((result.cpuMs * 1000) / Math.max(1, result.timestamps), 3),
      oracleCpuUsPerTimestamp: oracleCpuMs === undefined ? null : round((oracleCpuMs * 1000) / Math.max(1, result.timestamps), 3),
    };
    if (values.json) console.log(JSON.stringify(report));
    else console.log(formatReport(report));
    return report.orderViolations === 0 ? 0 : 1;
  } finally {
    await oracle?.stop();
    await meta?.destroy();
  }
}

/** Runs the load process; `onPhase` is called when its measured window starts and ends. */
function runLoadProcess(options: LoadOptions, onPhase: (phase: 'measure-start' | 'measure-end') => void): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [compiledPath('bench/oracle/oracle-load-worker'), JSON.stringify(options)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let result: LoadResult | undefined;
    let stderr = '';
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'measure-start' || line === 'measure-end') onPhase(line);
      else if (line.startsWith('{')) result = JSON.parse(line) as LoadResult;
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0 && result) resolve(result);
      else reject(new Error(`oracle load process exited with ${code}: ${stderr}`));
    });
  });
}

/** utime + stime of a process from /proc (Linux), in ms; undefined elsewhere. */
function processCpuMs(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

function formatReport(r: OracleBenchReport): string {
  return [
    `timestamp oracle, ${r.callers} concurrent callers, one batching client process, ${r.durationSeconds} s:`,
    `  timestamps/s delivered  ${r.timestampsPerSecond.toLocaleString('en-US')}`,
    `  RPCs/s (stream msgs)    ${r.rpcsPerSecond.toLocaleString('en-US')}   mean batch ${r.meanBatchSize}`,
    `  getTimestamp() latency  p50 ${r.p50Ms} ms   p99 ${r.p99Ms} ms   p99.9 ${r.p999Ms} ms   max ${r.maxMs} ms`,
    `  errors ${r.errors}   per-caller order violations ${r.orderViolations}`,
    `unbatched: ${r.unaryCallers} callers, one unary RPC per timestamp: ${r.unaryTimestampsPerSecond.toLocaleString('en-US')} timestamps/s (errors ${r.unaryErrors})`,
    `CPU per timestamp: client ${r.clientCpuUsPerTimestamp} µs, oracle ${r.oracleCpuUsPerTimestamp ?? 'n/a'} µs`,
    `machine: ${r.cpus} cores, load average ${r.loadAverage[0]} before, ${r.loadAverage[1]} after`,
  ].join('\n');
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
