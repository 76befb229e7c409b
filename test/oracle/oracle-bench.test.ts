import { describe, expect, it, vi } from 'vitest';
import { run } from '../../bench/oracle/oracle-bench.js';

describe('percolator bench oracle', () => {
  it('starts its own meta Postgres and oracle, drives it from another process and prints one JSON report', async () => {
    const printed: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
    let code: number;
    try {
      code = await run(['--duration', '1s', '--warmup', '200ms', '--callers', '50', '--unary-callers', '2', '--unary-duration', '300ms', '--json']);
    } finally {
      log.mockRestore();
    }
    expect(code).toBe(0);
    expect(printed).toHaveLength(1);
    const report = JSON.parse(printed[0]!);
    for (const field of ['timestampsPerSecond', 'rpcsPerSecond', 'meanBatchSize', 'p50Ms', 'p99Ms', 'p999Ms', 'unaryTimestampsPerSecond']) {
      expect(report[field]).toBeGreaterThan(0);
    }
    expect(report.orderViolations).toBe(0);
    expect(report.errors).toBe(0);
    expect(report.p50Ms).toBeLessThanOrEqual(report.p99Ms);
  });
});
