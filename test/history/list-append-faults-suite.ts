import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percolator, type Database, type IsolationLevel } from '../../src/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { anomalyTypes, checkHistory } from './check-history.js';
import type { Txn } from './history.js';
import { runListAppendChild } from './list-append-child.js';
import { finalReadOfAllLists, listLocksLeft, listSchema, runListAppendWorkload, seedLists } from './list-append-workload.js';

/**
 * List-append histories under faults, judged by the same checker:
 * - client processes SIGKILLed right after they start committing (their
 *   in-doubt transactions are info; their locks are left for others to
 *   resolve after the TTL);
 * - a shard killed and restarted while transactions run.
 * Nothing committed may be lost, nothing aborted may be seen, and the
 * isolation level's cycles stay forbidden.
 */
const LOCK_TTL_MS = 500;
const KEYS = 6;

/**
 * `clientTxns` transactions per client process, `restartTxns` in the run
 * with a shard restart: a bounded run in list-append-faults.test.ts, a long
 * one in list-append-faults.long.test.ts.
 */
export function listAppendFaultsSuite(size: { clientTxns: number; restartTxns: number; timeoutMs: number }): void {
  let cluster: TestCluster;
  let db: Database<typeof listSchema>;
  beforeAll(async () => {
    cluster = await startTestCluster({ shards: 3 });
    db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: listSchema, lockTtlMs: LOCK_TTL_MS });
    await db.migrate();
  });
  afterAll(async () => {
    await db?.close();
    await cluster?.destroy();
  });

  describe.each([
    ['serializable', 0],
    ['snapshot', 1],
  ] as const)('list-append histories with faults, %s', (isolation, run) => {

    it('clients killed mid-commit', async () => {
      const lists = { keys: KEYS, keyBase: run * 1000 };
      const base = run * 10_000_000;
      await seedLists(db, lists);
      const clients = [0, 1].map((i) =>
        runListAppendChild(
          {
            oracle: [cluster.oracleAddress],
            shards: cluster.shardUrls,
            lockTtlMs: LOCK_TTL_MS,
            workload: { ...lists, isolation, workers: 3, txns: size.clientTxns, maxOpsPerTxn: 4, firstValue: base + 1 + i * 1_000_000, firstId: base + 1 + i * 1_000_000 },
          },
          // One dies just after it starts committing its 12th transaction; the other runs to the end.
          [12, undefined][i],
        ),
      );
      const history = (await Promise.all(clients)).flat();
      // Past the dead client's TTL, the final read rolls its locks back or
      // forward; a lock still alive would only be pushed past the read.
      await sleep(LOCK_TTL_MS * 2);
      history.push(await finalReadOfAllLists(db, lists, base + 5_000_000));

      const errors: Record<string, number> = {};
      for (const t of history) {
        const name = t.note?.split(' ')[2];
        if (name) errors[name] = (errors[name] ?? 0) + 1;
      }
      const verdict = report('killed clients', history, isolation, errors);
      expect(verdict.violations.map((v) => v.description)).toEqual([]);
      expect(history.filter((t) => t.outcome === 'ok').length).toBeGreaterThan(size.clientTxns / 4);
      // The final read met every lock the dead clients left and resolved it.
      expect(await listLocksLeft(cluster.shardUrls)).toBe(0);
    }, size.timeoutMs);

    it('a shard killed and restarted during the run', async () => {
      const lists = { keys: KEYS, keyBase: run * 1000 + 100 };
      const base = run * 10_000_000 + 6_000_000;
      await seedLists(db, lists);
      let finished = 0;
      const workload = runListAppendWorkload(db, {
        ...lists,
        isolation,
        workers: 6,
        txns: size.restartTxns,
        maxOpsPerTxn: 4,
        firstValue: base + 1,
        firstId: base + 1,
        onTxn: () => (finished += 1),
      });
      while (finished < size.restartTxns / 4) await sleep(20);
      const shard = cluster.shards.servers[1]!;
      await shard.kill();
      await sleep(500);
      await shard.start();
      const { history, errors } = await workload;
      history.push(await finalReadOfAllLists(db, lists, base + 3_000_000));

      const verdict = report('shard restart', history, isolation, errors);
      expect(verdict.violations.map((v) => v.description)).toEqual([]);
      // Enough committed for the check to mean something; six workers on six keys abort
      // often (serializable most), so this only guards against a run that did nothing (23 of 120 was seen).
      expect(history.filter((t) => t.outcome === 'ok').length).toBeGreaterThan(size.restartTxns / 10);
      expect(Object.keys(errors).some((name) => name === 'ShardUnavailableError' || name === 'CommitUndeterminedError')).toBe(true);
    }, size.timeoutMs);
  });
}

function report(name: string, history: Txn[], isolation: IsolationLevel, errors?: Record<string, number>) {
  const result = checkHistory(history, isolation);
  const outcomes = { ok: 0, fail: 0, info: 0 };
  for (const t of history) outcomes[t.outcome] += 1;
  console.info(`${name}, ${isolation}: ${JSON.stringify({ outcomes, errors, ...result.stats, anomalies: anomalyTypes(result.anomalies) })}`);
  return result;
}
