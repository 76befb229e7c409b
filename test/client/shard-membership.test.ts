import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlacementChangeInProgressError, ShardUnavailableError, percolator, SchemaError } from '../../src/index.js';
import { withPlacementChangeLock } from '../../src/txn/placement-change-lock.js';
import { moveSlots } from '../../src/txn/slot-move.js';
import { PostgresServer } from '../../src/harness/postgres-server.js';
import { SLOT_COUNT } from '../../src/shard/placement-map.js';
import { bankSchema, checkBank, checkLedger, ledgerTransfersDuring, readBank, seedLedgerBank, type BankDb, type LedgerRun } from '../support/bank-ledger.js';
import { accounts } from '../support/bank-schema.js';
import { countOnShards } from '../support/raw-shards.js';
import { expectOneOwnerEach } from '../support/slot-moves.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

const ACCOUNTS = 60;
const CLIENTS = 6;
const ALL_SLOTS = Array.from({ length: SLOT_COUNT }, (_, slot) => slot);

/**
 * Adding a server to a running 2-shard cluster and rebalancing onto it,
 * then removing one of the original shards, each while clients run bank
 * transfers with a ledger: no transaction fails for the workload, the bank
 * and its ledger stay intact, every slot keeps one owner, clients that
 * connected before see the new map. An unreachable server changes nothing.
 */
describe('adding and removing shards', () => {
  let cluster: TestCluster;
  let extra: PostgresServer;
  let db: BankDb;
  /** Connected before any change: follows the map by itself. */
  let early: BankDb;
  const runs: LedgerRun[] = [];

  beforeAll(async () => {
    [cluster, extra] = await Promise.all([startTestCluster({ shards: 2 }), PostgresServer.create({ unsafeFast: true })]);
    db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: bankSchema, gc: false });
    await db.migrate();
    await seedLedgerBank(db, ACCOUNTS);
    early = await percolator({ oracle: [cluster.oracleAddress], schema: bankSchema, gc: false });
  });
  afterAll(async () => {
    await early?.close();
    await db?.close();
    await Promise.all([cluster?.destroy(), extra?.destroy()]);
  });

  /**
   * The bank and ledger in one snapshot, checked: with the moves' old
   * copies still on their sources (each shard returns only the slots it
   * owned at the reader's map version), then again after a GC pass with no
   * lifetime (the clients have stopped), which deletes those copies.
   */
  async function checkAll(): Promise<void> {
    const collector = await percolator({ oracle: [cluster.oracleAddress], schema: bankSchema, gc: { lifetimeMs: 0, intervalMs: 3_600_000 } });
    try {
      for (const pass of ['before', 'after']) {
        if (pass === 'after') await collector.collectGarbage({ force: true });
        const bank = await readBank(collector);
        checkBank(bank, ACCOUNTS);
        checkLedger(bank, runs);
      }
    } finally {
      await collector.close();
    }
  }

  /** CLIENTS transfer loops, each on its own client, until `work` settles. */
  async function underTransfers(label: string, work: () => Promise<void>): Promise<void> {
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => percolator({ oracle: [cluster.oracleAddress], schema: bankSchema, gc: false })));
    const mine = await ledgerTransfersDuring(clients, label, ACCOUNTS, work);
    runs.push(...mine);
    expect(Object.fromEntries(mine.flatMap((r) => [...r.errors])), 'transactions that failed for the workload').toEqual({});
    expect(mine.reduce((n, r) => n + r.acked.length, 0)).toBeGreaterThan(CLIENTS);
  }

  it('an unreachable new shard fails with ShardUnavailableError and changes nothing', async () => {
    const before = await db.shardStatus();
    const down = extra.url.replace(/:(\d+)\//, ':1/');
    await expect(db.addShard(down)).rejects.toThrow(ShardUnavailableError);
    const after = await db.shardStatus();
    expect(after.mapVersion).toBe(before.mapVersion);
    expect(after.shards.map((s) => [s.id, s.slots, s.ownedSlots])).toEqual(before.shards.map((s) => [s.id, s.slots, s.ownedSlots]));
  });

  it('runs one change of placement at a time: another is refused while one runs, and nothing changes', async () => {
    const before = await db.shardStatus();
    const other = await percolator({ oracle: [cluster.oracleAddress], schema: bankSchema, gc: false });
    try {
      await withPlacementChangeLock(other.placement, async () => {
        await expect(db.addShard(extra.url)).rejects.toThrow(PlacementChangeInProgressError);
        await expect(db.rebalance()).rejects.toThrow(PlacementChangeInProgressError);
        await expect(db.removeShard(cluster.shardUrls[0]!)).rejects.toThrow(PlacementChangeInProgressError);
      });
    } finally {
      await other.close();
    }
    expect((await db.shardStatus()).mapVersion).toBe(before.mapVersion);
  });

  it('refuses to add a shard from a client that does not declare every stored table', async () => {
    const partial = await percolator({ oracle: [cluster.oracleAddress], schema: { accounts }, gc: false });
    try {
      await expect(partial.addShard(extra.url)).rejects.toThrow(SchemaError);
      expect(await countOnShards([extra.url], `select count(*) as n from pg_tables where tablename like 'accounts%'`)).toEqual([0]);
    } finally {
      await partial.close();
    }
  });

  it('a shard added while clients run gets its share of slots and rows; clients see it', async () => {
    await underTransfers('add', async () => {
      const added = await db.addShard(extra.url, { rebalance: { batchSlots: 512 } });
      expect(added).toMatchObject({ id: 2, added: true });
      expect(added.rebalance!.slotsMoved).toBeGreaterThanOrEqual(1365);
    });
    const status = await db.shardStatus({ countRows: true });
    expect(status.shards.map((s) => s.id)).toEqual([0, 1, 2]);
    const slots = status.shards.map((s) => s.slots);
    expect(Math.max(...slots) - Math.min(...slots)).toBeLessThanOrEqual(1);
    expect(status.shards.map((s) => s.ownedSlots)).toEqual(slots);
    expect(status.slotsMoving).toBe(0);
    expect(status.movesInFlight).toEqual([]);
    expect(status.shards[2]!.rows).toBeGreaterThan(0);
    await expectOneOwnerEach([...cluster.shardUrls, extra.url], db.placement, ALL_SLOTS);
    // The early client learns the new map from its next timestamp, and writes where the map says.
    await early.insert(accounts).values({ id: 1000, balance: 0 });
    expect(early.placement.map.shards).toHaveLength(3);
    expect(early.shardCount).toBe(3);
    await early.delete(accounts).where(eq(accounts.id, 1000));
    await checkAll();
    // Adding it again changes nothing.
    expect(await db.addShard(extra.url)).toMatchObject({ id: 2, added: false });
  }, 240_000);

  it('a shard removed while clients run gives all its slots away and leaves the map; status says to keep it running', async () => {
    await underTransfers('remove', async () => {
      const removed = await db.removeShard(cluster.shardUrls[0]!, { batchSlots: 512 });
      expect(removed.id).toBe(0);
      expect(removed.drained.slotsMoved).toBeGreaterThanOrEqual(1365);
      expect(removed.keepRunningUntil).toBeGreaterThan(0n);
    });
    const status = await db.shardStatus();
    expect(status.shards.map((s) => s.id)).toEqual([1, 2]);
    expect(status.shards.map((s) => s.slots)).toEqual([2048, 2048]);
    expect(status.removedShards.map((r) => r.id)).toEqual([0]);
    // The removed server owns nothing any more.
    expect(await countOnShards([cluster.shardUrls[0]!], 'select count(*) as n from percolator_owned_slots')).toEqual([0]);
    await expectOneOwnerEach([...cluster.shardUrls, extra.url], db.placement, ALL_SLOTS);
    await checkAll();
    // That GC pass passed the last switch: the server may go. Even the client that still holds a pool for it never needs it again.
    expect((await db.shardStatus()).removedShards).toEqual([]);
    await cluster.shards.servers[0]!.stop();
    checkBank(await readBank(db), ACCOUNTS);
    await db.collectGarbage({ force: true });
    // A client connecting now needs only the oracle, and never dials the removed server.
    const late = await percolator({ oracle: [cluster.oracleAddress], schema: bankSchema, gc: false });
    try {
      expect(late.placement.map.shards.map((s) => s.id)).toEqual([1, 2]);
      checkBank(await readBank(late), ACCOUNTS);
    } finally {
      await late.close();
    }
  }, 240_000);

  it('a change of placement first finishes a move an interrupted change left frozen', async () => {
    const frozenOn = (url: string) => countOnShards([url], 'select count(*) as n from percolator_owned_slots where frozen');
    await db.placement.refresh();
    const slots = db.placement.map.slotsByShard().get(1)!.slice(0, 4);
    const interrupt = (step: string) => {
      if (step === 'frozen') throw new Error('mover stopped');
    };
    await expect(moveSlots(db.slotMoves, { from: 1, to: 2, slots }, { atStep: interrupt })).rejects.toThrow('mover stopped');
    expect(await frozenOn(cluster.shardUrls[1]!)).toEqual([4]);
    // A change that moves nothing by itself (the shard is already in the map) still settles the interrupted move first.
    expect(await db.addShard(extra.url)).toMatchObject({ id: 2, added: false });
    expect(await frozenOn(cluster.shardUrls[1]!)).toEqual([0]);
    await db.placement.refresh();
    expect(slots.map((slot) => db.placement.map.shardOfSlot(slot))).toEqual([2, 2, 2, 2]);
    const owning = `select count(*) as n from percolator_owned_slots where slot = any('{${slots.join(',')}}'::int[])`;
    expect(await countOnShards([cluster.shardUrls[1]!, extra.url], owning)).toEqual([0, 4]);
    checkBank(await readBank(db), ACCOUNTS);
  }, 120_000);
});
