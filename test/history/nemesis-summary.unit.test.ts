import { describe, expect, it } from 'vitest';
import type { Fault } from './nemesis.js';
import { recoverySummary } from './nemesis-summary.js';

const fault = (kind: Fault['kind'], healedAt: number, hits?: number): Fault => ({ kind, target: 'x', startedAt: healedAt - 100, healedAt, ...(hits === undefined ? {} : { hits }) });

describe('recoverySummary', () => {
  it('measures each fault to the first acknowledgement after its heal, overall and per kind', () => {
    const faults = [fault('shard-kill', 1000), fault('shard-loss', 2000, 7), fault('shard-kill', 3000), fault('shard-loss', 4000, 5), fault('shard-delay', 5000, 0)];
    const summary = recoverySummary(faults, [1010, 2500, 3040, 4001, 900]);
    expect(summary.all).toEqual({ faults: 5, p50: 40, max: 500, unrecovered: 1, hits: 12 });
    expect(summary.byKind).toEqual({
      'shard-kill': { faults: 2, p50: 40, max: 40, unrecovered: 0 },
      'shard-loss': { faults: 2, p50: 500, max: 500, unrecovered: 0, hits: 12 },
      'shard-delay': { faults: 1, p50: undefined, max: undefined, unrecovered: 1, hits: 0 },
    });
    expect(Object.keys(summary.byKind)).toEqual(['shard-kill', 'shard-loss', 'shard-delay']);
  });
});
