import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percolator, type Database } from '../../src/index.js';
import { slotOf } from '../../src/shard/shard-of.js';
import { switchSlots } from '../../src/txn/slot-switch.js';
import { accounts, accountsMeta } from '../support/bank-schema.js';
import { countOnShards, queryOnShards } from '../support/raw-shards.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

const schema = { accounts };

/**
 * Each shard records the slots it owns; a write (prewrite, locking read,
 * a resolver's placeholder) for a slot it does not own fails, and the
 * client reads the map again and runs the transaction again: the caller
 * never sees it, even with maxRetries 0.
 */
describe('slot fencing', () => {
  let cluster: TestCluster;
  let mover: Database<typeof schema>;
  let stale: Database<typeof schema>;
  /** Account ids of empty slots of shard 0 (initially slot mod 3 = 0), one per slot. */
  const idsOnShard0: number[] = [];

  beforeAll(async () => {
    cluster = await startTestCluster({ shards: 3 });
    mover = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema });
    await mover.migrate();
    stale = await percolator({ oracle: [cluster.oracleAddress], schema, maxRetries: 0 });
    const slots = new Set<number>();
    for (let id = 1; idsOnShard0.length < 4; id++) {
      const slot = slotOf(accountsMeta, { id });
      if (slot % 3 === 0 && !slots.has(slot)) {
        slots.add(slot);
        idsOnShard0.push(id);
      }
    }
  });
  afterAll(async () => {
    await stale?.close();
    await mover?.close();
    await cluster?.destroy();
  });

  const rowsPerShard = (id: number) => countOnShards(cluster.shardUrls, `select count(*) as n from accounts__versions where id = ${id} and op <> 'rollback'`);
  const locksPerShard = () => countOnShards(cluster.shardUrls, 'select count(*) as n from accounts__locks');

  it('refuses a prewrite placed by a map from before a switch; the transaction runs again on the new owner', async () => {
    const id = idsOnShard0[0]!;
    const slot = slotOf(accountsMeta, { id });
    let attempts = 0;
    await stale.transaction(async (tx) => {
      // The slot moves after this attempt began (its map is version 1) and before it writes.
      if (++attempts === 1) await switchSlots(mover.placement, { from: 0, to: 1, slots: [slot] });
      await tx.insert(accounts).values({ id, balance: 10 });
    });
    expect(attempts).toBe(2);
    expect(stale.placement.map.version).toBe(2n);
    expect(stale.placement.map.shardOfSlot(slot)).toBe(1);
    expect(await rowsPerShard(id)).toEqual([0, 1, 0]);
    expect(await locksPerShard()).toEqual([0, 0, 0]);
    const owners = await queryOnShards<{ n: number }>(cluster.shardUrls, `select count(*)::int as n from percolator_owned_slots where slot = ${slot}`);
    expect(owners.map(([row]) => row!.n)).toEqual([0, 1, 0]);
    expect(await mover.select().from(accounts).where(eq(accounts.id, id))).toEqual([{ id, balance: 10, owner: null }]);
  });

  it('refuses a locking read placed by a stale map, in both isolation levels', async () => {
    for (const [i, isolation] of (['snapshot', 'serializable'] as const).entries()) {
      const id = idsOnShard0[1 + i]!;
      const slot = slotOf(accountsMeta, { id });
      let attempts = 0;
      await stale.transaction(
        async (tx) => {
          if (++attempts === 1) await switchSlots(mover.placement, { from: 0, to: 2, slots: [slot] });
          const found = await tx.select().from(accounts).where(eq(accounts.id, id)).for('update');
          await tx.insert(accounts).values({ id, balance: found.length });
        },
        { isolation },
      );
      expect(attempts).toBe(2);
      expect(await rowsPerShard(id)).toEqual([0, 0, 1]);
    }
    expect(await locksPerShard()).toEqual([0, 0, 0]);
  });

  it('a transaction that starts after a switch reads the new map first (the generation on its timestamp): no write is refused', async () => {
    const id = idsOnShard0[3]!;
    const slot = slotOf(accountsMeta, { id });
    await switchSlots(mover.placement, { from: 0, to: 1, slots: [slot] });
    expect(stale.placement.map.version).toBe(4n);
    let attempts = 0;
    await stale.transaction(async (tx) => {
      attempts++;
      await tx.insert(accounts).values({ id, balance: 1 });
    });
    expect(attempts).toBe(1);
    expect(stale.placement.map.version).toBe(5n);
    expect(await rowsPerShard(id)).toEqual([0, 1, 0]);
  });

  it('leaves each switched slot with exactly one owner, as the map and the shards record it', async () => {
    const status = await stale.shardStatus();
    expect(status.mapVersion).toBe(5n);
    expect(status.shards.map((s) => [s.slots, s.ownedSlots, s.frozenSlots])).toEqual([
      [1362, 1362, 0],
      [1367, 1367, 0],
      [1367, 1367, 0],
    ]);
  });

  it('a switch run again after it completed changes nothing', async () => {
    const slot = slotOf(accountsMeta, { id: idsOnShard0[0]! });
    const map = await switchSlots(mover.placement, { from: 0, to: 1, slots: [slot] });
    expect(map.version).toBe(5n);
    const owners = await queryOnShards<{ n: number }>(cluster.shardUrls, `select count(*)::int as n from percolator_owned_slots where slot = ${slot}`);
    expect(owners.map(([row]) => row!.n)).toEqual([0, 1, 0]);
  });
});
