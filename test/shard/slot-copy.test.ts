import { eq } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percolator, type Database } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { ShardPool } from '../../src/shard/shard-pool.js';
import { slotOf } from '../../src/shard/shard-of.js';
import { TableStorage } from '../../src/shard/table-storage.js';
import { SlotCopier } from '../../src/txn/slot-move-copy.js';
import { accounts, accountsMeta } from '../support/bank-schema.js';
import { queryOnShards } from '../support/raw-shards.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

/**
 * The copy of a slot batch's rows between two shards (slot-move-copy.ts,
 * slot-copy-statements.ts) on real servers: every version and latest row,
 * page by page; a copy `since` a snapshot takes exactly what was written
 * after it, a rollback marker with a commit_ts far below every other
 * included; a latest row is only replaced by a newer one; copying twice
 * changes nothing.
 */
describe('slot copy', () => {
  let cluster: TestCluster;
  let db: Database<{ accounts: typeof accounts }>;
  let from: ShardPool;
  let to: ShardPool;
  const ids = Array.from({ length: 120 }, (_, i) => i);
  // Every row of shard 0: the copy moves its slots.
  let slots: number[];

  beforeAll(async () => {
    cluster = await startTestCluster({ shards: 2 });
    db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: { accounts }, gc: false });
    await db.migrate();
    await db.insert(accounts).values(ids.map((id) => ({ id, balance: id, owner: id % 2 ? `o${id}` : null })));
    for (const id of ids.filter((i) => i % 5 === 0)) await db.update(accounts).set({ balance: -id }).where(eq(accounts.id, id));
    slots = [...new Set(ids.filter((id) => db.placement.map.shardOfSlot(slotOf(accountsMeta, { id })) === 0).map((id) => slotOf(accountsMeta, { id })))];
    const logger = silentLogger;
    from = new ShardPool(0, cluster.shardUrls[0]!, logger);
    to = new ShardPool(1, cluster.shardUrls[1]!, logger);
  });
  afterAll(async () => {
    await from?.close();
    await to?.close();
    await db?.close();
    await cluster?.destroy();
  });

  const dump = (url: string, relation: string) =>
    queryOnShards<{ v: string | null }>([url], `select string_agg(t::text, '|' order by t::text) as v from ${relation} t where slot = any('{${slots.join(',')}}'::int[])`).then(
      (r) => r[0]![0]!.v,
    );

  it('copies every version and latest row of the slots, then only what came after a snapshot', async () => {
    const copier = new SlotCopier(from, to, [new TableStorage(accountsMeta)], slots, { pageRows: 7 });
    const copied = await copier.copy();
    const versions = await dump(cluster.shardUrls[0]!, 'accounts__versions');
    expect(await dump(cluster.shardUrls[1]!, 'accounts__versions')).toBe(versions);
    expect(await dump(cluster.shardUrls[1]!, 'accounts__latest')).toBe(await dump(cluster.shardUrls[0]!, 'accounts__latest'));
    expect(copied).toBeGreaterThan(slots.length * 2);
    // Nothing new: a copy since the snapshot taken before the first copy finds what the first copy already wrote, and writes it once.
    const mid = await copier.snapshot();
    expect(await copier.copy(mid)).toBe(0);

    // After `mid`: an update (new version, latest row replaced) and a rollback marker at a commit_ts below everything.
    const id = ids.find((i) => slots.includes(slotOf(accountsMeta, { id: i })))!;
    await db.update(accounts).set({ balance: 12345 }).where(eq(accounts.id, id));
    const client = new pg.Client(cluster.shardUrls[0]);
    await client.connect();
    try {
      await client.query(`insert into accounts__versions (id, commit_ts, start_ts, op, slot) select $1 + 100000, 5, 5, 'rollback', $2`, [id, slotOf(accountsMeta, { id })]);
    } finally {
      await client.end();
    }
    const caught = await copier.copy(mid);
    // The rollback marker, the new version, and the replaced latest row.
    expect(caught).toBe(3);
    expect(await dump(cluster.shardUrls[1]!, 'accounts__versions')).toBe(await dump(cluster.shardUrls[0]!, 'accounts__versions'));
    expect(await dump(cluster.shardUrls[1]!, 'accounts__latest')).toBe(await dump(cluster.shardUrls[0]!, 'accounts__latest'));
    // Copying everything again changes nothing (an older latest row never replaces a newer one).
    await copier.copy();
    expect(await dump(cluster.shardUrls[1]!, 'accounts__latest')).toBe(await dump(cluster.shardUrls[0]!, 'accounts__latest'));
  });
});
