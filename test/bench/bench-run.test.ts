import { existsSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../bench/bench-options.js';
import type { BenchReport } from '../../bench/run-result.js';
import { runBench } from '../../bench/run-bench.js';
import { PostgresCluster } from '../../src/harness/postgres-cluster.js';

// percolator joins once the client (src/index.ts) and the oracle process are on main.
const percolatorBuilt = existsSync('src/index.ts') && existsSync('src/harness/oracle-process.ts');
const systems = ['local', '2pc', ...(percolatorBuilt ? ['percolator'] : [])];

describe('percolator bench, a short real run of every system on bank (2 shards), in two rounds', () => {
  let cluster: PostgresCluster;
  let report: BenchReport;
  let stdout = '';
  let stderr = '';

  beforeAll(async () => {
    cluster = await PostgresCluster.start(3, { unsafeFast: true });
    const [shard0, shard1, local] = cluster.urls as [string, string, string];
    const options = parseBenchArgs([
      '--shard-url', shard0, '--shard-url', shard1, '--local-url', local,
      '--systems', systems.join(','), '--workload', 'bank', '--keys', '200',
      '--clients', '4', '--warmup', '0.5', '--duration', '2', '--rounds', '2', '--json',
    ]);
    const out = new PassThrough();
    const err = new PassThrough();
    out.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    err.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    report = await runBench(options, { stdout: out, stderr: err });
  }, 120_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it('prints one JSON object with a results array on stdout, progress on stderr', () => {
    const parsed = JSON.parse(stdout) as BenchReport;
    // The systems take turns: every system once per round.
    expect(parsed.results.map((r) => `${r.system}@${r.round}`)).toEqual([1, 2].flatMap((round) => systems.map((system) => `${system}@${round}`)));
    expect(parsed.settings.rounds).toBe(2);
    for (const r of parsed.results) {
      for (const field of ['system', 'workload', 'throughput', 'p50Ms', 'p99Ms', 'aborts', 'anomalies', 'cpuMsPerTxn']) expect(r).toHaveProperty(field);
    }
    expect(stderr).toMatch(/measure/);
    expect(stderr).toMatch(/txn\/s/);
    expect(stderr).toMatch(/round 2 of 2/);
    if (percolatorBuilt) expect(stderr).toMatch(/bank: percolator = [\d.]+x local \(median of 2; round 1: [\d.]+, round 2: [\d.]+\)/);
  });

  it('measures sane numbers for every system', () => {
    for (const r of report.results) {
      expect(r.error, `${r.system}: ${r.error}`).toBeUndefined();
      expect(r.errors, `${r.system}: ${r.errorSamples.join('; ')}`).toBe(0);
      expect(r.workload).toBe('bank');
      expect(r.commits).toBeGreaterThan(0);
      expect(r.commitsByKind.transfer).toBeGreaterThan(0);
      expect(r.latencyByKind.transfer!.p50Ms).toBeGreaterThan(0);
      // durationS is rounded to the millisecond: at thousands of txn/s that alone moves commits/durationS by about 1.
      expect(Math.abs(r.throughput - r.commits / r.durationS)).toBeLessThan(0.1 + r.throughput * 1e-3);
      expect(r.durationS).toBeGreaterThanOrEqual(1.9);
      expect(r.p50Ms).toBeGreaterThan(0);
      expect(r.p50Ms).toBeLessThanOrEqual(r.p99Ms);
      expect(r.p99Ms).toBeLessThanOrEqual(r.maxMs);
      expect(r.aborts).toBe(Object.values(r.abortsByCause).reduce((a, b) => a + b, 0));
      expect(r.retries).toBe(r.aborts - r.gaveUp);
      expect(r.cpuMs.client).toBeGreaterThan(0);
      expect(r.cpuMs.postgres).toBeGreaterThan(0);
      expect(r.cpuMsPerTxn).toBeCloseTo(r.cpuMs.total / r.commits, 2);
      expect(r.timeline.length).toBe(2);
    }
  });

  it('finds no anomaly in the systems that read a consistent snapshot', () => {
    for (const r of report.results.filter((x) => x.system !== '2pc')) expect(r.anomalies, r.anomalySamples.join('; ')).toBe(0);
  });

  it('counts the oracle\'s CPU for percolator only', () => {
    for (const r of report.results) {
      if (r.system.startsWith('percolator')) expect(r.cpuMs.oracle).toBeGreaterThan(0);
      else expect(r.cpuMs.oracle).toBe(0);
    }
  });

  it('names an oracle it cannot reach', async () => {
    const options = parseBenchArgs(['--shard-url', cluster.urls[0]!, '--systems', 'percolator', '--oracle', '127.0.0.1:1']);
    await expect(runBench(options, { stdout: new PassThrough(), stderr: new PassThrough() })).rejects.toThrow(/oracle 127\.0\.0\.1:1 unreachable/);
  });

  it('leaves no tables and no prepared transactions behind', async () => {
    for (const url of cluster.urls) {
      const client = new pg.Client(url);
      await client.connect();
      const tables = await client.query("SELECT tablename FROM pg_tables WHERE tablename LIKE 'bench\\_%'");
      const prepared = await client.query('SELECT gid FROM pg_prepared_xacts');
      await client.end();
      expect(tables.rows).toEqual([]);
      expect(prepared.rows).toEqual([]);
    }
  });
});
