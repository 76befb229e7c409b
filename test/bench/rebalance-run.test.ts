import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../bench/bench-options.js';
import { runBench } from '../../bench/run-bench.js';

/**
 * `percolator bench --rebalance-at`: bank on 2 throwaway shards, a third
 * added and rebalanced onto while the clients run. No anomaly, no failed
 * transaction, rows per shard within 10% of the mean at the end, and the
 * dip reported.
 */
describe('percolator bench --rebalance-at', () => {
  it('adds a shard during the measured window and reports the dip and the rows per shard', async () => {
    const options = parseBenchArgs([
      '--systems', 'percolator', '--workload', 'bank', '--shards', '2', '--keys', '1000',
      '--clients', '8', '--warmup', '0.5', '--duration', '8', '--rebalance-at', '2', '--json',
    ]);
    let stdout = '';
    let stderr = '';
    const out = new PassThrough().on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const err = new PassThrough().on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const report = await runBench(options, { stdout: out, stderr: err });
    const [run] = report.results;
    expect(run!.error).toBeUndefined();
    const rebalance = run!.rebalance!;
    expect(rebalance.error).toBeUndefined();
    expect(rebalance.atS).toBeGreaterThanOrEqual(2);
    expect(rebalance.slotsMoved).toBe(1365);
    expect(rebalance.rowsCopied).toBeGreaterThan(0);
    expect(run!.anomalies).toBe(0);
    expect(run!.errors + run!.gaveUp).toBe(0);
    expect(rebalance.rowsPerShard).toHaveLength(3);
    expect(rebalance.rowsPerShard.reduce((a, b) => a + b, 0)).toBe(1000);
    for (const rows of rebalance.rowsPerShard) expect(Math.abs(rows - 1000 / 3)).toBeLessThanOrEqual(1000 / 3 / 10);
    expect(stderr).toMatch(/rebalance during the run:\npercolator \(bank, round 1\): shard added at [\d.]+s, rebalanced by [\d.]+s/);
    expect(JSON.parse(stdout).settings.rebalanceAtS).toBe(2);
  }, 240_000);
});
