/**
 * The load side of `percolator bench oracle`, run in its own node process so
 * that the oracle and the callers do not share an event loop. Argument: one
 * JSON object (LoadOptions). Prints `measure-start` and `measure-end` around
 * the measured window, then one JSON object (LoadResult), on stdout.
 */
import * as hdr from 'hdr-histogram-js';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { createOracleClient } from '../../src/internal.js';

export interface LoadOptions {
  addresses: string[];
  callers: number;
  durationMs: number;
  warmupMs: number;
  unaryCallers: number;
  unaryDurationMs: number;
  token?: string;
}

export interface LoadResult {
  callers: number;
  durationMs: number;
  timestamps: number;
  rpcs: number;
  errors: number;
  /** Calls whose timestamp was not above the same caller's previous one (must be 0). */
  orderViolations: number;
  /** Of one getTimestamp(), from 1 call in 4 of every caller. */
  latencyUs: { p50: number; p99: number; p999: number; max: number; mean: number; samples: number };
  /** CPU time (user + system, all threads) this process used during the measured window. */
  cpuMs: number;
  unary: { callers: number; durationMs: number; calls: number; errors: number };
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2]!) as LoadOptions;
  const registry = new Registry();
  const client = createOracleClient({ addresses: options.addresses, token: options.token, registry, deadlineMs: 10_000 });
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let measuring = false;
  let stop = false;
  let timestamps = 0;
  let errors = 0;
  let orderViolations = 0;

  // Reading the clock costs ~60-90 ns here, as much as a third of a call's own
  // CPU: every caller times one call in SAMPLE_EVERY (round-robin, offset per
  // caller), which does not depend on how long the call takes, so the
  // percentiles are unbiased; every call is counted.
  const SAMPLE_EVERY = 4;
  async function caller(index: number): Promise<void> {
    let previous = 0n;
    let call = index;
    while (!stop) {
      const timed = ++call % SAMPLE_EVERY === 0;
      const started = timed ? performance.now() : 0;
      let ts: bigint;
      try {
        ts = await client.getTimestamp();
      } catch {
        errors++;
        continue;
      }
      if (measuring) {
        if (timed) histogram.recordValue(Math.round((performance.now() - started) * 1000));
        timestamps++;
      }
      if (ts <= previous) orderViolations++;
      previous = ts;
    }
  }

  const rpcCount = async (): Promise<number> => {
    const metric = await registry.getSingleMetric('percolator_oracle_client_requests_total')!.get();
    return metric.values.reduce((sum, v) => sum + v.value, 0);
  };

  const loops = Array.from({ length: options.callers }, (_, index) => caller(index));
  await sleep(options.warmupMs);
  const rpcsBefore = await rpcCount();
  process.stdout.write('measure-start\n'); // the parent samples the oracle's CPU now and at measure-end
  measuring = true;
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  await sleep(options.durationMs);
  measuring = false;
  process.stdout.write('measure-end\n');
  const elapsedMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuBefore);
  const rpcs = (await rpcCount()) - rpcsBefore;
  stop = true;
  await Promise.all(loops);

  // Unbatched: each caller makes its own unary RPC for one timestamp.
  let unaryCalls = 0;
  let unaryErrors = 0;
  let unaryStop = false;
  const unaryStart = performance.now();
  const unaryLoops = Array.from({ length: options.unaryCallers }, async () => {
    while (!unaryStop) {
      try {
        await client.getTimestampsUnbatched(1);
        unaryCalls++;
      } catch {
        unaryErrors++;
      }
    }
  });
  await sleep(options.unaryDurationMs);
  unaryStop = true;
  const unaryElapsed = performance.now() - unaryStart;
  await Promise.all(unaryLoops);
  await client.close();

  const result: LoadResult = {
    callers: options.callers,
    durationMs: elapsedMs,
    timestamps,
    rpcs,
    errors,
    orderViolations,
    latencyUs: {
      p50: histogram.getValueAtPercentile(50),
      p99: histogram.getValueAtPercentile(99),
      p999: histogram.getValueAtPercentile(99.9),
      max: histogram.maxValue,
      mean: histogram.mean,
      samples: histogram.totalCount,
    },
    cpuMs: (cpu.user + cpu.system) / 1000,
    unary: { callers: options.unaryCallers, durationMs: unaryElapsed, calls: unaryCalls, errors: unaryErrors },
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

await main();
