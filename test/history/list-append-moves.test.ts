import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percolator, type Database } from '../../src/index.js';
import { describeTable } from '../../src/schema/table-meta.js';
import { moveSlots } from '../../src/txn/slot-move.js';
import { expectOneOwnerEach, slotsOfRows, slotsOn } from '../support/slot-moves.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { anomalyTypes, checkHistory } from './check-history.js';
import { finalReadOfAllLists, listKeys, listSchema, lists, runListAppendWorkload, seedLists } from './list-append-workload.js';

/**
 * List-append histories while the lists' slots move back and forth between
 * two shards (src/txn/slot-move.ts), judged by the checker: no anomaly the
 * isolation level forbids, and no transaction lost to a move (a retried
 * refusal is internal, so transactions without retries still commit).
 */
describe('list-append histories while slots move', () => {
  const RUN = { keys: 6, workers: 8, txns: 700, maxOpsPerTxn: 4 };
  let cluster: TestCluster;
  let db: Database<typeof listSchema>;
  let mover: Database<typeof listSchema>;
  beforeAll(async () => {
    cluster = await startTestCluster({ shards: 2 });
    db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: listSchema, gc: false });
    await db.migrate();
    // The mover collects garbage often: a slot moved back needs the shard's old rows of it dropped, once the safe point passes the earlier switch.
    mover = await percolator({ oracle: [cluster.oracleAddress], schema: listSchema, gc: { lifetimeMs: 2000, intervalMs: 200 } });
  });
  afterAll(async () => {
    await mover?.close();
    await db?.close();
    await cluster?.destroy();
  });

  it.each([
    ['serializable', 0],
    ['snapshot', 1],
  ] as const)('%s (run %i): the history under moves has no anomaly the isolation level forbids', async (isolation, run) => {
    const base = { keyBase: run * 100, firstValue: run * 1_000_000 + 1, firstId: run * 1_000_000 + 1 };
    await seedLists(db, { ...RUN, ...base });
    const slots = slotsOfRows(describeTable(lists), 'key', listKeys({ ...RUN, ...base }));
    let done = false;
    let moves = 0;
    const moving = (async () => {
      while (!done) {
        for (const from of [0, 1]) {
          const batch = slotsOn(mover.placement, from, slots);
          if (batch.length > 0 && !done) {
            await moveSlots(mover.slotMoves, { from, to: 1 - from, slots: batch }, { pageRows: 10 });
            moves++;
          }
        }
      }
    })();
    const { history, errors } = await runListAppendWorkload(db, { ...RUN, ...base, isolation }).finally(() => (done = true));
    await moving;
    history.push(await finalReadOfAllLists(db, { ...RUN, ...base }, base.firstId + RUN.txns));
    const result = checkHistory(history, isolation);
    const outcomes = { ok: 0, fail: 0, info: 0 };
    for (const t of history) outcomes[t.outcome] += 1;
    console.info(`${isolation} under ${moves} moves: ${JSON.stringify({ outcomes, errors, ...result.stats, anomalies: anomalyTypes(result.anomalies) })}`);
    expect(result.violations.map((v) => v.description)).toEqual([]);
    expect(moves).toBeGreaterThan(1);
    expect(outcomes.ok).toBeGreaterThan(RUN.txns / 4);
    expect(outcomes.info).toBe(0);
    expect(Object.keys(errors).filter((name) => name === 'PlacementChangedError')).toEqual([]);
    await expectOneOwnerEach(cluster.shardUrls, mover.placement, slots);
  }, 240_000);
});
