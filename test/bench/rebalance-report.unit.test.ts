import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../bench/bench-options.js';
import { rebalanceLines, spread, throughputAround } from '../../bench/rebalance-run.js';
import { renderReport } from '../../bench/report/html-report.js';
import type { RunResult } from '../../bench/run-result.js';
import { InvalidInputError } from '../../src/errors.js';
import { runResult } from '../support/run-results.js';

const timeline = [100, 100, 100, 100, 50, 60, 90, 100, 100, 100].map((throughput, i) => ({ t: i + 1, throughput, aborts: 0 }));

describe('bench --rebalance-at', () => {
  it('parses the time, and refuses what cannot add a server during the run', () => {
    expect(parseBenchArgs(['--rebalance-at', '10s', '--shards', '2']).rebalanceAtS).toBe(10);
    expect(parseBenchArgs([]).rebalanceAtS).toBeUndefined();
    expect(() => parseBenchArgs(['--rebalance-at', '1', '--shard-url', 'postgres://h/db'])).toThrow(InvalidInputError);
    expect(() => parseBenchArgs(['--rebalance-at', '1', '--sweep', 'shards=1,2'])).toThrow(InvalidInputError);
    expect(() => parseBenchArgs(['--rebalance-at', '1', '--processes', '2'])).toThrow(InvalidInputError);
    expect(() => parseBenchArgs(['--rebalance-at', '1', '--systems', '2pc'])).toThrow(InvalidInputError);
  });

  it('measures the dip: mean before and during, the lowest second, seconds below 80% of before', () => {
    expect(throughputAround(timeline, 4, 7.2)).toEqual({ throughputBefore: 100, throughputDuring: 75, throughputAfter: 100, throughputMin: 50, dipSeconds: 2 });
    expect(spread([90, 100, 110])).toBe('20.0%');
  });

  it('reports when, what moved, the dip and rows per shard in the terminal and the HTML report', () => {
    const rebalance = { atS: 4, endS: 7.2, slotsMoved: 1365, rowsCopied: 3400, ...throughputAround(timeline, 4, 7.2), rowsPerShard: [339, 327, 334] };
    const run: RunResult = { ...runResult('percolator', 16, 1), rebalance };
    const lines = rebalanceLines([run, runResult('2pc', 16, 2)]);
    expect(lines).toContain('shard added at 4.0s, rebalanced by 7.2s (3.2s): 1365 slots, 3400 rows copied');
    expect(lines).toContain('throughput 100 txn/s before, 75 during, 100 after; lowest second 50; 2s below 80% of before');
    expect(lines).toContain('rows per shard at the end: 339 / 327 / 334 (spread 3.6% of the mean)');
    expect(rebalanceLines([runResult('2pc', 16, 2)])).toBe('');
    const html = renderReport({ command: 'c', startedAt: 's', machine: { cpus: 2, node: 'v20', platform: 'linux' }, settings: {}, sweep: null, results: [run] });
    expect(html).toMatch(/<table class="rebalance">.*<td>1365<\/td>.*<td>339 \/ 327 \/ 334 \(3\.6%\)<\/td>/s);
  });
});
