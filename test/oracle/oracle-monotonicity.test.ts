import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import { checkHistory, runHistoryClient, startHistoryClient, type RangeRecord } from './support/history.js';
import { META_BACKENDS, useMetaServer } from './support/meta-server-fixture.js';

describe.each(META_BACKENDS)('oracle monotonicity (meta store: %s)', (backend) => {
  const meta = useMetaServer(backend);

  it('the history checker catches overlaps and real-time order violations', () => {
    const r = (sent: number, received: number, first: number, count: number): RangeRecord => ({
      sentNs: BigInt(sent),
      receivedNs: BigInt(received),
      first: BigInt(first),
      count,
    });
    expect(checkHistory([r(0, 10, 100, 5), r(20, 30, 105, 1), r(5, 25, 50, 3)])).toEqual([]);
    expect(checkHistory([r(0, 10, 100, 5), r(20, 30, 104, 1)])[0]).toMatch(/overlap/);
    expect(checkHistory([r(0, 10, 100, 5), r(20, 30, 90, 1)])[0]).toMatch(/real-time order/);
  });

  it('hands out non-overlapping, real-time ordered ranges to many clients in several processes', async () => {
    const oracle = await meta.oracle({ args: ['--lease', '1500ms'] });
    const runs = await Promise.all(
      [0, 1, 2].map(() => runHistoryClient({ addresses: [oracle.address], callers: 40, durationMs: 2000, maxCount: 100 })),
    );
    const records = runs.flatMap((run) => run.records);
    for (const run of runs) expect(run.errors).toEqual({});
    expect(records.length).toBeGreaterThan(300);
    expect(checkHistory(records)).toEqual([]);

    // Concurrent callers share one request asking for exactly as many timestamps as they want.
    const registry = new Registry();
    const client = createOracleClient({ addresses: [oracle.address], registry });
    try {
      const counted = async (name: string): Promise<number> =>
        (await registry.getSingleMetric(name)!.get()).values.reduce((sum, v) => sum + v.value, 0);
      const first = await Promise.all(Array.from({ length: 1000 }, () => client.getTimestamp()));
      expect(await counted('percolator_oracle_client_requests_total')).toBe(1);
      expect(new Set(first).size).toBe(1000);
      expect(first.every((ts, i) => i === 0 || ts === first[i - 1]! + 1n)).toBe(true); // one contiguous range, in call order
      // Callers arriving while a request is in flight wait for the next one, together.
      const wave1 = Array.from({ length: 10 }, () => client.getTimestamp());
      await new Promise((r) => setImmediate(r)); // wave 1 is sent
      const wave2 = Array.from({ length: 500 }, () => client.getTimestamps(2));
      await Promise.all([...wave1, ...wave2]);
      expect(await counted('percolator_oracle_client_requests_total')).toBe(3);
      const sizes = (await registry.getSingleMetric('percolator_oracle_client_batch_size')!.get()).values;
      expect(sizes.find((v) => (v as { metricName?: string }).metricName?.endsWith('_sum'))!.value).toBe(1000 + 10 + 1000);
    } finally {
      await client.close();
    }
  });

  it('stays above everything served before a kill -9 and restart', async () => {
    const oracle = await meta.oracle({ args: ['--lease', '1s'] });
    const client = createOracleClient({ addresses: [oracle.address], deadlineMs: 15_000 });
    try {
      const before = await Promise.all(Array.from({ length: 500 }, () => client.getTimestamp()));
      const highestBefore = before.reduce((a, b) => (a > b ? a : b));
      // Clients keep asking across the crash; they must wait, never get anything lower.
      // Long enough to outlast a restart on a loaded machine, so calls are also sent after it;
      // few callers, so the history stays small enough to check quickly.
      const during = startHistoryClient({ addresses: [oracle.address], callers: 3, durationMs: 6000, maxCount: 50 });
      await during.answered;
      await sleep(200);
      const killedAtNs = process.hrtime.bigint();
      await oracle.kill('SIGKILL');
      await oracle.restart();
      const after = await client.getTimestamp();
      expect(after).toBeGreaterThan(highestBefore);
      const run = await during.done;
      expect(run.records.filter((r) => r.receivedNs < killedAtNs).length).toBeGreaterThan(0);
      expect(run.records.filter((r) => r.sentNs > killedAtNs).length).toBeGreaterThan(0);
      expect(checkHistory(run.records)).toEqual([]);
      expect(run.records.every((x) => x.first > highestBefore)).toBe(true);
    } finally {
      await client.close();
    }
  });
});
