import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../bench/bench-options.js';
import type { BenchReport } from '../../bench/run-result.js';
import { runBench } from '../../bench/run-bench.js';
import { PostgresCluster } from '../../src/harness/postgres-cluster.js';

// Client processes are started from dist/ (npm run build first).
describe('percolator bench --processes: clients in several processes, measured as one run', () => {
  let cluster: PostgresCluster;
  let report: BenchReport;
  let stdout = '';

  beforeAll(async () => {
    cluster = await PostgresCluster.start(3, { unsafeFast: true });
    const [shard0, shard1, local] = cluster.urls as [string, string, string];
    const options = parseBenchArgs([
      '--shard-url', shard0, '--shard-url', shard1, '--local-url', local,
      '--systems', 'local,2pc,percolator', '--workload', 'bank', '--keys', '200',
      '--processes', '2', '--clients', '2', '--warmup', '1', '--duration', '2',
    ]);
    const out = new PassThrough();
    out.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    report = await runBench(options, { stdout: out, stderr: new PassThrough() });
  }, 180_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it('adds up what every process committed, with their CPU as the client\'s', () => {
    expect(report.results.map((r) => r.system)).toEqual(['local', '2pc', 'percolator']);
    for (const r of report.results) {
      expect(r.error, `${r.system}: ${r.error}`).toBeUndefined();
      expect(r.errors, `${r.system}: ${r.errorSamples.join('; ')}`).toBe(0);
      expect(r).toMatchObject({ clients: 2, processes: 2 });
      expect(r.commits).toBeGreaterThan(0);
      expect(r.commitsByKind.transfer).toBeGreaterThan(0);
      expect(r.timeline.reduce((n, s) => n + s.throughput, 0)).toBeLessThanOrEqual(r.commits);
      expect(r.roundTripsPerTxn).toBeGreaterThan(0);
      expect(r.cpuMs.client).toBeGreaterThan(0);
      expect(r.cpuMs.postgres).toBeGreaterThan(0);
    }
    // The oracle is the parent's: its CPU is sampled there.
    expect(report.results.find((r) => r.system === 'percolator')!.cpuMs.oracle).toBeGreaterThan(0);
    expect(report.results.find((r) => r.system === 'percolator')!.anomalies).toBe(0);
    expect(stdout).toMatch(/bank\s+percolator\s+2x2\s/);
  });
});
