import { inArray } from 'drizzle-orm';
import { integer, pgTable, primaryKey } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percolator, SchemaError } from '../../src/index.js';
import { describeTable } from '../../src/schema/table-meta.js';
import { shardOf } from '../../src/shard/shard-of.js';
import type { TimestampSource } from '../../src/oracle/timestamp-source.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

const orders = pgTable('orders', { accountId: integer('account_id').notNull(), id: integer().notNull() }, (t) => [primaryKey({ columns: [t.accountId, t.id] })]);
const schema = { orders };
const shardKeys = { orders: ['accountId'] as ['accountId'] };

/**
 * Clients that disagree about the shard list (order, count) or about
 * placement (shardKeys) would look for a transaction's primary on the wrong
 * shard and roll back secondaries of committed transactions. The oracle
 * keeps each cluster's placement map, so the list a client gives no longer
 * decides placement; each shard records its identity at migrate(), and
 * connecting checks it (the whole list where no map is kept).
 */
describe('shard identity', () => {
  let cluster: TestCluster;
  let tso: TimestampSource;
  /** A fresh database on each server, per name: cheap throwaway "shards". */
  const database = async (name: string): Promise<string[]> => {
    for (const server of cluster.shards.servers) {
      const client = new pg.Client(server.url);
      await client.connect();
      await client.query(`create database ${name}`);
      await client.end();
    }
    return cluster.shards.servers.map((s) => s.urlFor(name));
  };
  const connect = (shards: string[], options: object = {}) =>
    percolator({ oracle: [cluster.oracleAddress], shards, schema, shardKeys, maxRetries: 0, ...options });
  const onEach = (urls: string[], sql: string) =>
    Promise.all(
      urls.map(async (url) => {
        const client = new pg.Client(url);
        await client.connect();
        try {
          return (await client.query(sql)).rows[0] as Record<string, unknown>;
        } finally {
          await client.end();
        }
      }),
    );
  const failure = (work: Promise<unknown>) => work.then(() => undefined, (e: unknown) => e);

  beforeAll(async () => {
    cluster = await startTestCluster({ shards: 3 });
    tso = await cluster.createTimestampSource();
  });
  afterAll(async () => {
    await tso?.close();
    await cluster?.destroy();
  });

  it('clients that list the shards in another order, or fewer of them, place rows by the oracle\'s map: they cannot disagree', async () => {
    const [a, b, c] = await database('ordered');
    const db = await connect([a!, b!, c!]);
    await db.migrate();
    const rows = Array.from({ length: 30 }, (_, i) => ({ accountId: i, id: i }));
    await db.insert(orders).values(rows);

    const again = await connect([a!, b!, c!]); // the same list: fine, and migrate() stays idempotent
    await again.migrate();
    await again.close();

    // Before the oracle kept the map, these two lists were refused (each would have looked for rows on the wrong shards).
    const swapped = await connect([b!, a!, c!]);
    const fewer = await connect([a!, b!]);
    try {
      for (const other of [swapped, fewer]) {
        expect(other.shardCount).toBe(3);
        const found = await other.select().from(orders).where(inArray(orders.accountId, rows.map((r) => r.accountId)));
        expect(found).toHaveLength(rows.length);
      }
      await swapped.insert(orders).values({ accountId: 100, id: 1 });
      await fewer.insert(orders).values({ accountId: 101, id: 1 });
      expect(await db.select().from(orders).where(inArray(orders.accountId, [100, 101]))).toHaveLength(2);
      // Each row is on the one shard the map names.
      const counts = await onEach([a!, b!, c!], 'select count(*)::int as n from orders__versions');
      const expected = [0, 0, 0];
      const meta = describeTable(orders, { shardKey: ['accountId'] });
      for (const row of [...rows, { accountId: 100, id: 1 }, { accountId: 101, id: 1 }]) expected[shardOf(meta, row, 3)]!++;
      expect(counts.map((r) => r.n)).toEqual(expected);
    } finally {
      await Promise.all([db.close(), swapped.close(), fewer.close()]);
    }

    // Without an oracle that keeps maps (a custom TimestampSource), the list is the placement and is still checked.
    const unmapped = await failure(connect([b!, a!, c!], { oracle: tso }));
    expect(unmapped).toBeInstanceOf(SchemaError);
    expect((unmapped as Error).message).toMatch(/shard #0 .* position 1 .*lists it at position 0/);
    const shorter = await failure(connect([a!, b!], { oracle: tso }));
    expect(shorter).toBeInstanceOf(SchemaError);
    expect((shorter as Error).message).toMatch(/3 shards.* 2/);
  });

  it('a database that records nothing cannot stand in for a shard of a complete cluster', async () => {
    const [a, b] = await database('complete');
    const db = await connect([a!, b!]);
    await db.migrate();
    await db.insert(schema.orders).values(Array.from({ length: 20 }, (_, i) => ({ accountId: i, id: i })));
    await db.close();
    await onEach([a!], 'create database blank');
    const blank = a!.replace(/\/complete$/, '/blank');

    const connected = await failure(connect([a!, blank]));
    expect(connected).toBeInstanceOf(SchemaError);
    expect((connected as Error).message).toMatch(/records no identity.*complete cluster of 2 shards/);
    const engine = createTransactionEngine({ shards: [a!, blank], timestampSource: tso, registry: new Registry(), gc: false });
    try {
      expect(await failure(engine.migrate([describeTable(orders, { shardKey: ['accountId'] })]))).toBeInstanceOf(SchemaError);
    } finally {
      await engine.close();
    }
    const [blankTables] = await onEach([blank], "select count(*)::int as n from pg_tables where tablename like 'percolator%'");
    expect(blankTables).toEqual({ n: 0 }); // refused before anything was written
  });

  it('refuses a client whose shardKeys place a table differently', async () => {
    const urls = await database('keyed');
    const db = await connect(urls);
    await db.migrate();
    await db.close();
    const other = await failure(connect(urls, { shardKeys: {} })); // orders placed by its whole primary key
    expect(other).toBeInstanceOf(SchemaError);
    expect((other as Error).message).toMatch(/orders.*\(account_id integer\).*\(account_id integer, id integer\)/);
  });

  it('refuses shards of two different clusters in one list', async () => {
    const first = await database('cluster_one');
    const second = await database('cluster_two');
    for (const urls of [first, second]) {
      const db = await connect(urls);
      await db.migrate();
      await db.close();
    }
    const mixed = await failure(connect([first[0]!, second[1]!, first[2]!]));
    expect(mixed).toBeInstanceOf(SchemaError);
    expect((mixed as Error).message).toMatch(/cluster/);
  });

  it('lets unmigrated shards connect, and migrate() refuses one database listed twice under two URLs', async () => {
    const [a, b] = await database('twice');
    const sameAsA = `${a}?application_name=alias`;
    const db = await connect([a!, sameAsA, b!]); // nothing recorded yet: connecting is fine
    const error = await failure(db.migrate());
    await db.close();
    expect(error).toBeInstanceOf(SchemaError);
    expect((error as Error).message).toMatch(/position/);
  });

  it('migrate() of an engine given the shards in another order refuses, before writing anything', async () => {
    const [a, b, c] = await database('engine_order');
    const meta = describeTable(orders, { shardKey: ['accountId'] });
    const right = createTransactionEngine({ shards: [a!, b!, c!], timestampSource: tso, registry: new Registry(), gc: false });
    await right.migrate([meta]);
    await right.close();
    const wrong = createTransactionEngine({ shards: [c!, b!, a!], timestampSource: tso, registry: new Registry(), gc: false });
    const extra = describeTable(pgTable('extra', { id: integer().primaryKey() }));
    const error = await failure(wrong.migrate([meta, extra]));
    await wrong.close();
    expect(error).toBeInstanceOf(SchemaError);
    expect((error as Error).message).toMatch(/position/);
    expect(await onEach([a!, b!, c!], "select to_regclass('extra__versions') is null as absent")).toEqual([{ absent: true }, { absent: true }, { absent: true }]);
  });

  it('two first migrate() calls at once agree on one cluster id', async () => {
    const urls = await database('concurrent');
    const [one, two] = await Promise.all([connect(urls), connect(urls)]);
    await Promise.all([one.migrate(), two.migrate()]);
    await Promise.all([one.close(), two.close()]);
    const recorded = await onEach(urls, 'select cluster_id::text as id, position from percolator_shard_identity');
    expect(new Set(recorded.map((r) => r.id)).size).toBe(1);
    expect(recorded.map((r) => r.position)).toEqual([0, 1, 2]);
  });
});
