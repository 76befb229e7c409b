import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percolator } from '../../src/index.js';
import { moveSlots } from '../../src/txn/slot-move.js';
import { bankSchema, checkBank, readBank, seedLedgerBank, type BankDb } from '../support/bank-ledger.js';
import { accountsMeta } from '../support/bank-schema.js';
import { slotRowsPerShard, slotsOfRows, slotsOn } from '../support/slot-moves.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

const ACCOUNTS = 60;

/**
 * A move's record lives on its destination until the source drops its old
 * copy (once the GC safe point passes the switch). A destination removed
 * before that hands the record to the source, so the copy is still dropped:
 * slots moved 0 -> 2, then 2 -> 1, then shard 2 removed; shard 0's copy of
 * them must go at the next GC pass, not stay (and slow its reads) forever.
 */
describe('removing a shard that a move left a record on', () => {
  let cluster: TestCluster;
  let db: BankDb;

  beforeAll(async () => {
    cluster = await startTestCluster({ shards: 3 });
    db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: bankSchema, gc: false });
    await db.migrate();
    await seedLedgerBank(db, ACCOUNTS);
  });
  afterAll(async () => {
    await db?.close();
    await cluster?.destroy();
  });

  it("the source drops its old copy of the slots after the destination left", async () => {
    const ids = Array.from({ length: ACCOUNTS }, (_, i) => i + 1);
    const slots = slotsOn(db.placement, 0, slotsOfRows(accountsMeta, 'id', ids));
    expect(slots.length).toBeGreaterThan(3);
    await moveSlots(db.slotMoves, { from: 0, to: 2, slots });
    await moveSlots(db.slotMoves, { from: 2, to: 1, slots });
    const removed = await db.removeShard(cluster.shardUrls[2]!, { batchSlots: 4096, byRows: false });
    expect(removed.id).toBe(2);
    const oldCopy = () => slotRowsPerShard(cluster.shardUrls.slice(0, 1), 'accounts__latest', slots);
    expect((await oldCopy())[0]).toBeGreaterThan(0);
    expect((await db.shardStatus()).slotsAwaitingDrop).toBeGreaterThanOrEqual(slots.length);

    const collector = await percolator({ oracle: [cluster.oracleAddress], schema: bankSchema, gc: { lifetimeMs: 0, intervalMs: 3_600_000 } });
    try {
      await collector.collectGarbage({ force: true });
    } finally {
      await collector.close();
    }
    expect((await oldCopy())[0]).toBe(0);
    const status = await db.shardStatus();
    expect(status.slotsAwaitingDrop).toBe(0);
    expect(status.removedShards).toEqual([]);
    checkBank(await readBank(db), ACCOUNTS);
  }, 120_000);
});
