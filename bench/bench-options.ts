import { parseArgs } from 'node:util';
import { InvalidInputError } from '../src/errors.js';
import { parseDurationFlagMs } from '../src/command-line/duration.js';
import { redactUrl } from '../src/redact.js';
import { SYSTEM_NAMES, type SystemName } from './systems/bench-system.js';
import { WORKLOAD_NAMES, type WorkloadName } from './workloads/workload.js';

export type Isolation = 'snapshot' | 'serializable' | 'both';

export interface Sweep {
  readonly parameter: 'clients' | 'shards';
  readonly values: readonly number[];
}

export interface BenchOptions {
  readonly durationS: number;
  readonly warmupS: number;
  /** Clients per client process. */
  readonly clients: number;
  /** Client processes, each with `clients` clients. */
  readonly processes: number;
  /** Shards to start when no --shard-url is given. */
  readonly shards: number;
  readonly shardUrls: readonly string[] | undefined;
  readonly localUrl: string | undefined;
  readonly oracle: string | undefined;
  readonly keys: number;
  /** 0 = uniform. */
  readonly zipf: number;
  readonly systems: readonly SystemName[];
  readonly workloads: readonly WorkloadName[];
  /** Share of multi-key transactions forced to span shards (the rest stay on one); undefined = keys drawn independently. */
  readonly crossShardFraction: number | undefined;
  readonly opsPerTxn: number;
  readonly auditShare: number;
  readonly seed: number;
  readonly sweep: Sweep | undefined;
  /** Times the systems are run, taking turns (a, b, a, b): ratios are taken within a round, where the machine's speed was the same. */
  readonly rounds: number;
  readonly json: boolean;
  readonly report: string | undefined;
  /** Cores each Postgres server may use (cgroups); undefined = no cap. */
  readonly serverCpu: number | undefined;
  /** Round trip added between the client and every server and the oracle (tc netem on loopback); undefined = none. */
  readonly rttMs: number | undefined;
  /** Seconds into the measured window at which percolator runs get one more shard and rebalance onto it; undefined = never. */
  readonly rebalanceAtS: number | undefined;
}

export const DEFAULTS = {
  duration: 10,
  // Long enough for V8 to finish compiling the hot paths of the client and
  // the oracle, so that the window measures steady state (measured on bank:
  // after 5 s, V8's compiler threads still took 24-45% of percolator's client
  // CPU; client CPU/txn 1.09-1.17 ms with 5 s against 0.64-0.87 with 15 s,
  // the oracle's 0.23-0.24 against 0.11-0.14; 2pc unchanged) and for every
  // pooled connection to have planned its statements.
  warmup: 15,
  clients: 16,
  shards: 3,
  keys: 1000,
  seed: 42,
  opsPerTxn: 1,
  auditShare: 0.05,
};

const MAX_ROUNDS = 20;
const MAX_PROCESSES = 64;

const SYSTEMS_BY_ISOLATION: Record<Isolation, SystemName[]> = {
  snapshot: ['local', '2pc', 'percolator'],
  serializable: ['local-serializable', '2pc', 'percolator-serializable'],
  both: ['local', 'local-serializable', '2pc', 'percolator', 'percolator-serializable'],
};

export const help = `usage: percolator bench [options]
       percolator bench oracle [options]     timestamp oracle benchmark (see \`bench oracle --help\`)

Runs workloads against percolator and the baselines on the same shards and
data, and prints throughput, latency, aborts, anomalies and CPU cost per
transaction. Without addresses it starts throwaway Postgres servers (durable
settings: fsync on) and an oracle process, and removes them afterwards.

systems (--systems a,b,...; default from --isolation):
  local                    all data in one Postgres database, REPEATABLE READ
  local-serializable       the same, SERIALIZABLE
  2pc                      the shards, PREPARE TRANSACTION / COMMIT PREPARED, READ COMMITTED reads
  percolator               this layer, snapshot isolation
  percolator-serializable  this layer, serializable
  percolator-locking       this layer, snapshot isolation, rows to be written read with for('update')

workloads (--workload a,b,...):
  bank     transfers between two accounts + audits summing every balance (wrong total = anomaly)
  ycsb-a   50% read / 50% update          ycsb-b   95% read / 5% update
  ycsb-c   100% read                       ycsb-f   50% read / 50% read-modify-write
  scan     80% range scans over every shard / 20% updates of the scanned column

options:
  --workload <names>          workloads to run (default bank)
  --systems <names>           systems to compare
  --isolation <level>         snapshot | serializable | both: picks the default systems (default snapshot)
  --duration <d>              measured time per system: 20s, 500ms, 2m, or seconds (default ${DEFAULTS.duration}s)
  --warmup <d>                unmeasured warm-up before it (default ${DEFAULTS.warmup}s)
  --clients <n>               concurrent client sessions, per process (default ${DEFAULTS.clients})
  --processes <n>             client processes, each running --clients sessions, as several application
                              servers would (statements are shared within a process only; default 1)
  --shards <n>                throwaway shards to start (default ${DEFAULTS.shards})
  --shard-url <url>           use this Postgres as a shard instead (repeat for each shard)
  --local-url <url>           Postgres for the local baselines (default: a throwaway one, or the first shard URL)
  --oracle <host:port>        use this oracle instead of starting one (a started one keeps its
                              meta table on the first shard's server)
  --keys <n>                  rows in the workload's table (default ${DEFAULTS.keys})
  --zipf <theta>              Zipfian key access with 0 < theta < 1, e.g. 0.99 (default: uniform)
  --cross-shard-fraction <f>  share of multi-key transactions that span shards, 0..1; the rest
                              touch one shard (default: keys drawn independently)
  --ops-per-txn <n>           keys per YCSB/scan transaction (default ${DEFAULTS.opsPerTxn})
  --audit-share <f>           bank: share of transactions that are audits, 0..1 (default ${DEFAULTS.auditShare})
  --seed <n>                  random seed; same seed, same key sequence (default ${DEFAULTS.seed})
  --sweep <param>=<values>    clients=1,4,16,64 or shards=1,2,4,8: run the grid
  --rounds <n>                run the systems n times, taking turns; comparisons are per round,
                              then the median (default 1, at most ${MAX_ROUNDS}; use 3+ on machines
                              whose speed drifts)
  --server-cpu <cores>        cap every Postgres server (each shard and local) at this much CPU, e.g. 0.15,
                              with a cgroup each: a simulated cluster of small servers (root, Linux)
  --rtt-ms <ms>               add this network round trip between the client and every server and the
                              oracle: tc netem on loopback where it can (root, Linux, netem), otherwise a
                              delay relay per server in processes of their own (they use CPU here too)
  --rebalance-at <d>          percolator systems: this far into the measured window, add a shard (a
                              throwaway server started for it) and rebalance slots and rows onto it while
                              the workload runs; the report shows the throughput dip and its length, and
                              the rows per shard at the end (e.g. --shards 2 --rebalance-at 10s)
  --json                      print one JSON object ({ results: [...] }) on stdout; progress goes to stderr
  --report <file.html>        write a self-contained HTML report with charts
  -h, --help                  this help

examples:
  npx percolator bench
  npx percolator bench --workload ycsb-b --zipf 0.99 --duration 20s
  npx percolator bench --sweep clients=1,4,16,64 --report report.html
  npx percolator bench --rounds 3 --systems 2pc,percolator
  npx percolator bench --processes 4 --clients 16
  npx percolator bench --workload bank --shards 2 --duration 40s --rebalance-at 10s --report rebalance.html
  npx percolator bench --server-cpu 0.15 --rtt-ms 0.5 --sweep shards=1,2,4 --clients 32
  npx percolator bench --shard-url postgres://u:p@db1/app --shard-url postgres://u:p@db2/app --oracle 10.0.0.5:7070`;

/**
 * `--clients -3` as `--clients=-3`: parseArgs takes a value that starts with
 * a dash for an option and says "argument is ambiguous"; joined, the value
 * reaches our own check, which says what is wrong with it.
 */
function attachNegativeNumbers(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (/^--[a-z-]+$/.test(arg) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Parses `percolator bench` arguments; throws InvalidInputError with a message fit for the terminal. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: attachNegativeNumbers(argv),
      strict: true,
      allowPositionals: false,
      options: {
        duration: { type: 'string' },
        warmup: { type: 'string' },
        clients: { type: 'string' },
        processes: { type: 'string' },
        shards: { type: 'string' },
        'shard-url': { type: 'string', multiple: true },
        'local-url': { type: 'string' },
        oracle: { type: 'string' },
        keys: { type: 'string' },
        zipf: { type: 'string' },
        systems: { type: 'string' },
        workload: { type: 'string' },
        isolation: { type: 'string' },
        'cross-shard-fraction': { type: 'string' },
        'ops-per-txn': { type: 'string' },
        'audit-share': { type: 'string' },
        seed: { type: 'string' },
        sweep: { type: 'string' },
        rounds: { type: 'string' },
        json: { type: 'boolean' },
        'server-cpu': { type: 'string' },
        'rtt-ms': { type: 'string' },
        'rebalance-at': { type: 'string' },
        report: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new InvalidInputError((error as Error).message);
  }
  const v = parsed.values;

  const shardUrls = v['shard-url'];
  if (shardUrls && v.shards !== undefined) throw new InvalidInputError('give either --shards (throwaway shards) or --shard-url (your own), not both');
  for (const url of [...(shardUrls ?? []), ...(v['local-url'] ? [v['local-url']] : [])]) checkUrl(url);
  if (v.oracle !== undefined && !/^[^:\s]+:\d{1,5}$/.test(v.oracle)) throw new InvalidInputError(`--oracle must be host:port, got '${v.oracle}'`);

  const isolation = oneOf('--isolation', v.isolation ?? 'snapshot', ['snapshot', 'serializable', 'both'] as const);
  if (v.systems !== undefined && v.isolation !== undefined) {
    throw new InvalidInputError('give either --systems or --isolation (which only picks the default systems), not both');
  }
  const systems = v.systems !== undefined ? list('--systems', v.systems, SYSTEM_NAMES) : SYSTEMS_BY_ISOLATION[isolation];
  const workloads = list('--workload', v.workload ?? 'bank', WORKLOAD_NAMES);

  const zipf = v.zipf === undefined ? 0 : number('--zipf', v.zipf);
  if (!(zipf >= 0 && zipf < 1)) throw new InvalidInputError(`--zipf must be a theta with 0 < theta < 1 (YCSB uses 0.99), got ${v.zipf}`);
  const crossShardFraction = v['cross-shard-fraction'] === undefined ? undefined : number('--cross-shard-fraction', v['cross-shard-fraction']);
  if (crossShardFraction !== undefined && !(crossShardFraction >= 0 && crossShardFraction <= 1)) {
    throw new InvalidInputError(`--cross-shard-fraction must be between 0 and 1, got ${v['cross-shard-fraction']}`);
  }

  const auditShare = v['audit-share'] === undefined ? DEFAULTS.auditShare : number('--audit-share', v['audit-share']);
  if (!(auditShare >= 0 && auditShare <= 1)) throw new InvalidInputError(`--audit-share must be between 0 and 1, got ${v['audit-share']}`);

  const sweep = v.sweep === undefined ? undefined : parseSweep(v.sweep);
  if (sweep?.parameter === 'shards' && shardUrls) {
    if (Math.max(...sweep.values) > shardUrls.length) {
      throw new InvalidInputError(`--sweep shards needs up to ${Math.max(...sweep.values)} shards but only ${shardUrls.length} --shard-url were given`);
    }
  }

  const serverCpu = v['server-cpu'] === undefined ? undefined : number('--server-cpu', v['server-cpu']);
  if (serverCpu !== undefined && !(serverCpu >= 0.01 && serverCpu <= 1024)) throw new InvalidInputError(`--server-cpu must be between 0.01 and 1024 cores, got ${v['server-cpu']}`);
  if (serverCpu !== undefined && (shardUrls || v['local-url'])) {
    throw new InvalidInputError('--server-cpu caps the throwaway servers the benchmark starts; it cannot cap --shard-url or --local-url servers');
  }
  const rttMs = v['rtt-ms'] === undefined ? undefined : number('--rtt-ms', v['rtt-ms']);
  if (rttMs !== undefined && !(rttMs > 0 && rttMs <= 1000)) throw new InvalidInputError(`--rtt-ms must be greater than 0 and at most 1000, got ${v['rtt-ms']}`);

  const rebalanceAtS = v['rebalance-at'] === undefined ? undefined : seconds('--rebalance-at', v['rebalance-at'], 0, true);
  if (rebalanceAtS !== undefined) {
    if (shardUrls) throw new InvalidInputError('--rebalance-at adds a throwaway server as a new shard: it cannot be used with --shard-url');
    if (sweep?.parameter === 'shards') throw new InvalidInputError('--rebalance-at and --sweep shards cannot be combined');
    if (v.processes !== undefined && v.processes !== '1') throw new InvalidInputError('--rebalance-at needs the clients in this process (--processes 1)');
    if (!systems.some((system) => system.startsWith('percolator'))) throw new InvalidInputError('--rebalance-at applies to the percolator systems: name one in --systems');
  }

  return {
    durationS: seconds('--duration', v.duration, DEFAULTS.duration, false),
    warmupS: seconds('--warmup', v.warmup, DEFAULTS.warmup, true),
    clients: positiveInteger('--clients', v.clients, DEFAULTS.clients),
    processes: atMost('--processes', v.processes, positiveInteger('--processes', v.processes, 1), MAX_PROCESSES),
    shards: shardUrls ? shardUrls.length : positiveInteger('--shards', v.shards, DEFAULTS.shards),
    shardUrls,
    localUrl: v['local-url'],
    oracle: v.oracle,
    keys: atLeast('--keys', v.keys, DEFAULTS.keys, 2),
    zipf,
    systems,
    workloads,
    crossShardFraction,
    opsPerTxn: positiveInteger('--ops-per-txn', v['ops-per-txn'], DEFAULTS.opsPerTxn),
    auditShare,
    seed: integer('--seed', v.seed, DEFAULTS.seed),
    sweep,
    rounds: atMost('--rounds', v.rounds, positiveInteger('--rounds', v.rounds, 1), MAX_ROUNDS),
    json: v.json ?? false,
    report: v.report,
    serverCpu,
    rttMs,
    rebalanceAtS,
  };
}

export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

function parseSweep(text: string): Sweep {
  const match = /^(clients|shards)=(.+)$/.exec(text);
  if (!match) throw new InvalidInputError(`--sweep must look like clients=1,4,16,64 or shards=1,2,4,8, got '${text}'`);
  const parameter = match[1] as Sweep['parameter'];
  const values = match[2]!.split(',').map((s) => positiveInteger(`--sweep ${parameter}`, s.trim(), 0));
  if (new Set(values).size !== values.length) throw new InvalidInputError(`--sweep ${parameter} lists a value twice: ${match[2]}`);
  return { parameter, values };
}

function checkUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidInputError(`not a Postgres URL: '${redactUrl(url)}' (expected postgres://user:password@host:port/database)`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new InvalidInputError(`not a Postgres URL: '${redactUrl(url)}' (expected postgres://user:password@host:port/database)`);
  }
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new InvalidInputError(`${flag} must be one of ${allowed.join(', ')}; got '${value}'`);
  return value as T;
}

function list<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new InvalidInputError(`${flag} needs at least one name (${allowed.join(', ')})`);
  const unknown = names.filter((n) => !(allowed as readonly string[]).includes(n));
  if (unknown.length > 0) throw new InvalidInputError(`${flag}: unknown ${unknown.map((n) => `'${n}'`).join(', ')}; choose from ${allowed.join(', ')}`);
  return [...new Set(names)] as T[];
}

function number(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidInputError(`${flag} must be a number, got '${value}'`);
  return n;
}

function integer(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = number(flag, value);
  if (!Number.isSafeInteger(n)) throw new InvalidInputError(`${flag} must be an integer, got '${value}'`);
  return n;
}

function atLeast(flag: string, value: string | undefined, fallback: number, min: number): number {
  const n = integer(flag, value, fallback);
  if (n < min) throw new InvalidInputError(`${flag} must be at least ${min}, got ${value}`);
  return n;
}

function atMost(flag: string, text: string | undefined, n: number, max: number): number {
  if (n > max) throw new InvalidInputError(`${flag} must be at most ${max}, got ${text}`);
  return n;
}

function positiveInteger(flag: string, value: string | undefined, fallback: number): number {
  return atLeast(flag, value, fallback, 1);
}

/** A duration flag in seconds (the CLI's one duration grammar: `20`, `20s`, `500ms`, `2m`). */
function seconds(flag: string, value: string | undefined, fallback: number, allowZero: boolean): number {
  if (value === undefined) return fallback;
  if (/^\s*-/.test(value)) throw new InvalidInputError(`${flag} must ${allowZero ? 'not be negative' : 'be greater than 0'}, got ${value}`);
  const s = parseDurationFlagMs(flag, value) / 1000;
  if (!allowZero && s <= 0) throw new InvalidInputError(`${flag} must be greater than 0, got ${value}`);
  return s;
}
