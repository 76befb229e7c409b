import { performance } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEnvironment, type BenchEnvironment } from '../../bench/bench-environment.js';
import { parseBenchArgs } from '../../bench/bench-options.js';
import { runBench } from '../../bench/run-bench.js';
import { SYSTEM_NAMES } from '../../bench/systems/bench-system.js';
import { silentLogger } from '../../src/logger.js';
import { createOracleClient } from '../../src/oracle/oracle-client.js';

/** The fastest of `n` calls: a lower bound that load on the machine can only raise. */
async function fastestMs(n: number, call: () => Promise<unknown>): Promise<number> {
  let fastest = Infinity;
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await call();
    fastest = Math.min(fastest, performance.now() - start);
  }
  return fastest;
}

// Netem where this machine has it, delay relays otherwise: either way every round trip takes at least --rtt-ms.
describe('percolator bench --rtt-ms', () => {
  let env: BenchEnvironment;
  const log: string[] = [];

  beforeAll(async () => {
    const options = { ...parseBenchArgs(['--systems', 'local,percolator', '--shards', '1', '--rtt-ms', '5']) };
    env = await openEnvironment(options, silentLogger, (line) => log.push(line));
  }, 120_000);
  afterAll(() => env?.close());

  it('says how the delay is added', () => {
    expect(log.join('\n')).toMatch(/--rtt-ms: 5 ms added to every round trip .*(tc netem|delay relay)/);
  });

  it('adds the round trip to every statement to a shard and to local', async () => {
    for (const url of [env.shardUrls[0]!, env.localUrl!]) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        expect(await fastestMs(10, () => client.query('SELECT 1'))).toBeGreaterThanOrEqual(5);
      } finally {
        await client.end();
      }
    }
  });

  it('adds the round trip to every oracle timestamp', async () => {
    const oracle = createOracleClient({ addresses: [env.oracleAddress!] });
    try {
      expect(await fastestMs(10, () => oracle.getTimestampsUnbatched(1))).toBeGreaterThanOrEqual(5);
    } finally {
      await oracle.close();
    }
  });

  // Every transaction makes at least one round trip, so none commits faster than the delay.
  it('runs every system through the delay', async () => {
    const stderr = new PassThrough();
    const report = await runBench(parseBenchArgs(['--rtt-ms', '5', '--systems', SYSTEM_NAMES.join(','), '--shards', '2', '--clients', '2', '--warmup', '0.3', '--duration', '1', '--keys', '100']), { stdout: new PassThrough(), stderr });
    expect(report.results.map((r) => r.system).sort()).toEqual([...SYSTEM_NAMES].sort());
    for (const result of report.results) {
      expect(result.error, result.system).toBeUndefined();
      expect(result.commits, result.system).toBeGreaterThan(0);
      expect(result.latencyPercentiles[0]!.ms, result.system).toBeGreaterThanOrEqual(5);
    }
  }, 240_000);
});
