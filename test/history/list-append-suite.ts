import { mkdir, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percolator, type Database } from '../../src/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { anomalyTypes, checkHistory } from './check-history.js';
import { finalReadOfAllLists, listSchema, runListAppendWorkload, seedLists } from './list-append-workload.js';

/**
 * Randomized list-append histories on 3 real shards with a real oracle,
 * judged by the checker: serializable mode must show no dependency cycle at
 * all, snapshot mode none but write skew (G2-item). `txns` transactions per
 * run: a bounded run in list-append.test.ts, a long one in
 * list-append.long.test.ts.
 */
export function listAppendSuite(size: { txns: number; timeoutMs: number }): void {
  const RUN = { keys: 6, workers: 8, txns: size.txns, maxOpsPerTxn: 4 };
  describe('list-append histories', () => {
    let cluster: TestCluster;
    let db: Database<typeof listSchema>;
    beforeAll(async () => {
      cluster = await startTestCluster({ shards: 3 });
      db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: listSchema });
      await db.migrate();
    });
    afterAll(async () => {
      await db?.close();
      await cluster?.destroy();
    });

    // Locking reads (`for update`) read newer than the snapshot, so only serializable mode promises a checkable history with them.
    it.each([
      ['serializable', 0, 0],
      ['snapshot', 1, 0],
      ['serializable', 2, 0.5],
    ] as const)(
      '%s (run %i, share of transactions with locking reads %d): the history has no anomaly the isolation level forbids',
      async (isolation, run, lockingReads) => {
        const base = { keyBase: run * 100, firstValue: run * 1_000_000 + 1, firstId: run * 1_000_000 + 1 };
        await seedLists(db, { ...RUN, ...base });
        const { history, errors } = await runListAppendWorkload(db, { ...RUN, ...base, isolation, lockingReads });
        history.push(await finalReadOfAllLists(db, { ...RUN, ...base }, base.firstId + RUN.txns));

        const result = checkHistory(history, isolation);
        const outcomes = { ok: 0, fail: 0, info: 0 };
        for (const t of history) outcomes[t.outcome] += 1;
        console.info(`${isolation}: ${JSON.stringify({ outcomes, errors, ...result.stats, anomalies: anomalyTypes(result.anomalies) })}`);

        if (!result.valid) await saveHistory(`list-append-${isolation}`, history);
        expect(result.violations.map((v) => v.description)).toEqual([]);
        // The run must have been a real test: many commits, and contention.
        expect(outcomes.ok).toBeGreaterThan(RUN.txns / 4);
        expect(outcomes.fail).toBeGreaterThan(0);
        expect(outcomes.info).toBe(0);
      },
      size.timeoutMs,
    );
  });
}

/** Keeps a failing history for reading (.tmp/ is git-ignored). */
async function saveHistory(name: string, history: unknown): Promise<void> {
  await mkdir('.tmp', { recursive: true });
  await writeFile(`.tmp/${name}.json`, JSON.stringify(history, null, 1));
}
