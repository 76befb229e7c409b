import { describe, expect, it } from 'vitest';
import { formatResults } from '../../bench/result-table.js';
import type { RunResult } from '../../bench/run-result.js';
import { runResult } from '../support/run-results.js';

/** A run of `system` in `round` with the given throughput. */
function run(system: RunResult['system'], round: number, throughput: number): RunResult {
  return { ...runResult(system, 16, 1, round), throughput };
}

describe('the results table', () => {
  it('gives the scale-out curve and efficiency of each sharded system when runs span shard counts', () => {
    const at = (system: RunResult['system'], shards: number, round: number, throughput: number): RunResult => ({ ...run(system, round, throughput), shards });
    const text = formatResults([
      at('2pc', 1, 1, 100), at('percolator', 1, 1, 200), at('local', 1, 1, 300),
      at('2pc', 4, 1, 200), at('percolator', 4, 1, 640), at('local', 4, 1, 310),
      at('2pc', 1, 2, 120), at('percolator', 1, 2, 200),
      at('2pc', 4, 2, 240), at('percolator', 4, 2, 560),
    ]);
    expect(text).toContain('bank: percolator scale-out, txn/s by shards 1: 200, 4: 600; efficiency 1→4 shards 0.75 (clients 16)');
    expect(text).toContain('bank: 2pc scale-out, txn/s by shards 1: 110, 4: 220; efficiency 1→4 shards 0.50 (clients 16)');
    expect(text).not.toMatch(/local scale-out/);
    expect(formatResults([run('percolator', 1, 600)])).not.toMatch(/scale-out/);
  });

  it('compares percolator with each baseline, one ratio per system for one round', () => {
    const text = formatResults([run('local', 1, 2000), run('2pc', 1, 800), run('percolator', 1, 600)]);
    expect(text).toContain('bank: percolator = 0.30x local, 0.75x 2pc (clients 16, shards 3)');
    expect(text.split('\n')[0]).not.toMatch(/round/);
    // One client count measured: the line on how to see the ratio at others; a sweep over clients shows them.
    expect(text).toContain('these ratios move with concurrency');
    const swept = formatResults([run('2pc', 1, 800), run('percolator', 1, 600), { ...run('2pc', 1, 900), clients: 64 }, { ...run('percolator', 1, 1000), clients: 64 }]);
    expect(swept).not.toContain('these ratios move with concurrency');
  });

  it('pairs runs of the same round and gives the median over rounds', () => {
    // The machine sped up in round 2: every system got faster, the ratios did not.
    const text = formatResults([
      run('2pc', 1, 800), run('percolator', 1, 640),
      run('2pc', 2, 1600), run('percolator', 2, 1440),
      run('2pc', 3, 1000), run('percolator', 3, 700),
    ]);
    expect(text).toContain('bank: percolator = 0.80x 2pc (median of 3; round 1: 0.80, round 2: 0.90, round 3: 0.70) (clients 16, shards 3)');
    const [header, , ...rows] = text.split('\n');
    expect(header).toMatch(/^workload\s+system\s+round\s+clients/);
    expect(rows.slice(0, 6).map((r) => r.split(/\s+/).slice(1, 3).join(' '))).toEqual([
      '2pc 1', 'percolator 1', '2pc 2', 'percolator 2', '2pc 3', 'percolator 3',
    ]);
    expect(text).toContain('bank/percolator round 2 aborts:');
  });

  it('leaves out a round whose baseline or percolator run failed, and says which rounds count', () => {
    const text = formatResults([
      run('2pc', 1, 800), run('percolator', 1, 640),
      { ...run('2pc', 2, 0), error: 'shard down' }, run('percolator', 2, 900),
      run('2pc', 3, 1000), run('percolator', 3, 700),
      run('2pc', 4, 1000), { ...run('percolator', 4, 0), error: 'oracle down' },
    ]);
    expect(text).toContain('bank: percolator = 0.75x 2pc (median of 2; round 1: 0.80, round 3: 0.70) (clients 16, shards 3)');
    expect(text).toContain('bank/2pc round 2: failed: shard down');
    expect(text).toContain('bank/percolator round 4: failed: oracle down');
  });

  it('in a sweep, pairs each run only with baselines of its own configuration and round', () => {
    const at = (system: RunResult['system'], shards: number, round: number, throughput: number): RunResult => ({ ...run(system, round, throughput), shards });
    const text = formatResults([
      at('local', 1, 1, 1000), at('percolator', 1, 1, 500),
      { ...at('local', 3, 1, 0), error: 'disk full' }, at('percolator', 3, 1, 900),
      at('local', 1, 2, 1000), at('percolator', 1, 2, 300),
      at('local', 3, 2, 3000), at('percolator', 3, 2, 600),
    ]);
    expect(text).toContain('bank: percolator = 0.40x local (median of 2; round 1: 0.50, round 2: 0.30) (clients 16, shards 1)');
    expect(text).toContain('bank: percolator = 0.20x local (median of 1; round 2: 0.20) (clients 16, shards 3)');
  });
});
