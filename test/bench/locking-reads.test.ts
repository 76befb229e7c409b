import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../bench/bench-options.js';
import type { BenchReport, RunResult } from '../../bench/run-result.js';
import { runBench } from '../../bench/run-bench.js';
import { PostgresCluster } from '../../src/harness/postgres-cluster.js';

describe('percolator-locking: transfers on hot keys read their rows for update', () => {
  let cluster: PostgresCluster;
  let report: BenchReport;

  beforeAll(async () => {
    cluster = await PostgresCluster.start(2, { unsafeFast: true });
    const options = parseBenchArgs([
      ...cluster.urls.flatMap((url) => ['--shard-url', url]),
      '--systems', 'percolator,percolator-locking', '--workload', 'bank', '--keys', '20', '--zipf', '0.99',
      '--clients', '8', '--warmup', '0.5', '--duration', '2', '--json',
    ]);
    report = await runBench(options, { stdout: new PassThrough(), stderr: new PassThrough() });
  }, 120_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  const run = (system: string): RunResult => report.results.find((r) => r.system === system)!;

  it('commits transfers and audits with no anomaly', () => {
    for (const system of ['percolator', 'percolator-locking']) {
      const r = run(system);
      expect(r.error, `${system}: ${r.error}`).toBeUndefined();
      expect(r.errors, `${system}: ${r.errorSamples.join('; ')}`).toBe(0);
      expect(r.commitsByKind.transfer).toBeGreaterThan(0);
      expect(r.anomalies, r.anomalySamples.join('; ')).toBe(0);
    }
  });

  it('queues writers on the lock instead of failing their prewrite on a newer version', () => {
    // Optimistic transfers of the same hot rows find versions committed after their snapshot...
    expect(run('percolator').abortsByCause['write-conflict:newer-version']).toBeGreaterThan(0);
    // ...which a row read for update cannot: the lock read returns its newest version and holds it.
    expect(run('percolator-locking').abortsByCause['write-conflict:newer-version']).toBeUndefined();
  });
});
