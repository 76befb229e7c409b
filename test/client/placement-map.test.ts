import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError, percolator } from '../../src/index.js';
import { createOracleClient, type OracleClient } from '../../src/oracle/oracle-client.js';
import { decodeSlots, SLOT_COUNT } from '../../src/shard/placement-map.js';
import { accounts } from '../support/bank-schema.js';
import { queryOnShards } from '../support/raw-shards.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

const schema = { accounts };

/** The oracle keeps the cluster's placement map: the first migrate() registers it, later clients need only the oracle. */
describe('placement map', () => {
  let cluster: TestCluster;
  let oracle: OracleClient;

  beforeAll(async () => {
    cluster = await startTestCluster({ shards: 3 });
    oracle = createOracleClient({ addresses: [cluster.oracleAddress] });
  });
  afterAll(async () => {
    await oracle?.close();
    await cluster?.destroy();
  });

  it('needs shards to create a cluster: the oracle keeps none yet', async () => {
    expect((await oracle.readPlacement(undefined)).placement).toBeUndefined();
    await expect(percolator({ oracle: [cluster.oracleAddress], schema })).rejects.toThrow(InvalidInputError);
  });

  it('is registered by the first migrate(); a client given only the oracle finds the shards and the rows', async () => {
    const creator = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema });
    try {
      await creator.migrate();
      await creator.insert(accounts).values(Array.from({ length: 50 }, (_, id) => ({ id, balance: 100 })));
    } finally {
      await creator.close();
    }
    const { placement, generation } = await oracle.readPlacement(undefined);
    expect(placement?.version).toBe(1n);
    expect(generation).toBe(1n);
    expect(placement?.shards).toEqual(cluster.shardUrls.map((url, id) => ({ id, url })));
    const slots = decodeSlots(placement!.slots);
    expect(slots.length).toBe(SLOT_COUNT);
    expect([...slots.slice(0, 6)]).toEqual([0, 1, 2, 0, 1, 2]);
    // Each shard records the slots it owns (the fence of stage two): the initial layout, from version 1.
    const owned = await queryOnShards<{ n: number; version: string }>(cluster.shardUrls, 'select count(*)::int as n, min(since_version)::text as version from percolator_owned_slots');
    expect(owned.map(([row]) => row)).toEqual([
      { n: 1366, version: '1' },
      { n: 1365, version: '1' },
      { n: 1365, version: '1' },
    ]);

    const db = await percolator({ oracle: [cluster.oracleAddress], schema });
    try {
      expect(db.shardCount).toBe(3);
      const [total] = await db.select({ sum: sql<number>`sum(${accounts.balance})`.mapWith(Number) }).from(accounts);
      expect(total?.sum).toBe(5000);
      await db.update(accounts).set({ balance: 99 }).where(eq(accounts.id, 7));
      expect(await db.select().from(accounts).where(eq(accounts.id, 7))).toEqual([{ id: 7, balance: 99, owner: null }]);
    } finally {
      await db.close();
    }
  });

  it('db.shardStatus() and `percolator shards status` show the map and what each shard holds', async () => {
    const db = await percolator({ oracle: [cluster.oracleAddress], schema });
    try {
      const status = await db.shardStatus();
      expect(status.mapVersion).toBe(1n);
      expect(status.shards.map((s) => [s.id, s.slots, s.ownedSlots, s.frozenSlots])).toEqual([
        [0, 1366, 1366, 0],
        [1, 1365, 1365, 0],
        [2, 1365, 1365, 0],
      ]);
      expect(status.shards.every((s) => s.bytes > 0 && !s.address.includes(new URL(cluster.shardUrls[0]!).password))).toBe(true);
    } finally {
      await db.close();
    }
    const { stdout } = await promisify(execFile)(process.execPath, ['bin/percolator.js', 'shards', 'status', '--oracle', cluster.oracleAddress]);
    expect(stdout).toMatch(/placement map version 1, 4096 slots/);
    expect(stdout.trim().split('\n')).toHaveLength(5);
  });

  it('timestamps carry the placement generation', async () => {
    await oracle.getTimestamp();
    expect(oracle.placementGeneration).toBe(1n);
  });
});
