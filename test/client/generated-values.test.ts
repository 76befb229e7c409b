import { eq, sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, integer, jsonb, pgTable, serial, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError, percolator, SchemaError, SequenceExhaustedError, ShardUnavailableError, type Database } from '../../src/index.js';
import { ID_BLOCK_SIZE } from '../../src/client/id-blocks.js';
import { describeTable } from '../../src/schema/table-meta.js';
import { shardOf } from '../../src/shard/shard-of.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

const items = pgTable('items', {
  id: serial().primaryKey(),
  label: text().notNull(),
  token: uuid().defaultRandom().notNull(),
  createdAt: timestamp('created_at').defaultNow().notNull(),
  status: text().default(sql`'draft'::text`).notNull(),
  rank: integer().default(sql`(42)`),
  flag: boolean().default(sql`true`),
  meta: jsonb().default(sql`'{"a": 1}'::jsonb`),
});
const logs = pgTable('logs', { id: bigserial({ mode: 'bigint' }).primaryKey(), line: text() });
const tickets = pgTable('tickets', { id: integer().generatedAlwaysAsIdentity({ startWith: 100, increment: 5 }).primaryKey(), title: text() });
const seats = pgTable('seats', { id: bigint({ mode: 'number' }).generatedByDefaultAsIdentity({ maxValue: 3 }).primaryKey() });
const odd = pgTable('odd', { id: integer().primaryKey(), code: text().default(sql`md5(random()::text)`) });
const schema = { items, logs, tickets, seats, odd };

let cluster: TestCluster;
let db: Database<typeof schema>;
let other: Database<typeof schema>;

beforeAll(async () => {
  cluster = await startTestCluster({ shards: 3 });
  const options = { oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema, maxRetries: 50 };
  [db, other] = await Promise.all([percolator(options), percolator(options)]);
  await Promise.all([db.migrate(), other.migrate()]);
});

afterAll(async () => {
  await Promise.all([db?.close(), other?.close()]);
  await cluster?.destroy();
});

function increasing(values: readonly (number | bigint)[]): boolean {
  return values.every((v, i) => i === 0 || v > values[i - 1]!);
}

describe('serial and identity values', () => {
  it('are unique across two clients and increase within each, across blocks', async () => {
    async function insertMany(client: Database<typeof schema>, who: string): Promise<number[]> {
      const ids: number[] = [];
      for (let batch = 0; batch < 12; batch++) {
        const rows = await client.insert(items).values(Array.from({ length: 100 }, (_, i) => ({ label: `${who}${batch}.${i}` }))).returning({ id: items.id });
        ids.push(...rows.map((r) => r.id));
        const [one] = await client.insert(items).values({ label: `${who}${batch}` }).returning({ id: items.id });
        ids.push(one!.id);
      }
      return ids;
    }
    const [a, b] = await Promise.all([insertMany(db, 'a'), insertMany(other, 'b')]);
    expect(a.length + b.length).toBeGreaterThan(2 * ID_BLOCK_SIZE); // each client went through more than one block
    expect(increasing(a)).toBe(true);
    expect(increasing(b)).toBe(true);
    expect(new Set([...a, ...b]).size).toBe(a.length + b.length);
    const stored = await db.select({ id: items.id }).from(items);
    expect(stored.length).toBe(a.length + b.length);
    expect(Math.min(...stored.map((r) => r.id))).toBe(1);
  });

  it('a serial key is point-read and pinned to its shard', async () => {
    const [row] = await db.insert(items).values({ label: 'pinned' }).returning();
    const shard = shardOf(describeTable(items), { id: row!.id }, 3);
    const down = cluster.shards.servers[(shard + 1) % 3]!;
    await down.stop();
    try {
      const [read] = await db.transaction((tx) => tx.select().from(items).where(eq(items.id, row!.id)), { maxRetries: 0 });
      expect(read).toEqual(row);
      await expect(db.transaction((tx) => tx.select().from(items), { maxRetries: 0 })).rejects.toBeInstanceOf(ShardUnavailableError);
    } finally {
      await down.start();
    }
  });

  it('bigserial values are bigints; a rolled-back insert leaves a gap', async () => {
    const [first] = await db.insert(logs).values({ line: 'one' }).returning();
    await expect(
      db.transaction(async (tx) => {
        await tx.insert(logs).values({ line: 'lost' });
        tx.rollback();
      }),
    ).rejects.toThrow();
    const [third] = await db.insert(logs).values({ line: 'three' }).returning();
    expect(typeof first!.id).toBe('bigint');
    expect(third!.id).toBe(first!.id + 2n);
  });

  it('identity columns honour start and increment; always-identity refuses a value; a value may be given by default', async () => {
    const rows = await db.insert(tickets).values([{ title: 'a' }, { title: 'b' }, { title: 'c' }]).returning();
    expect(rows.map((r) => r.id)).toEqual([100, 105, 110]);
    await expect(db.insert(tickets).values({ id: 7, title: 'x' } as never)).rejects.toThrow(/generated always/);
    const [otherClient] = await other.insert(tickets).values({ title: 'd' }).returning();
    expect(otherClient!.id).toBe(100 + 5 * ID_BLOCK_SIZE); // the second client's block starts after the first's
    await db.insert(seats).values({ id: 1000 });
    await db.insert(seats).values([{}, {}, {}]);
    await expect(db.insert(seats).values({})).rejects.toBeInstanceOf(SequenceExhaustedError);
    expect((await db.select().from(seats).orderBy(seats.id)).map((r) => r.id)).toEqual([1, 2, 3, 1000]);
  });
});

describe('defaults evaluated on the client', () => {
  it('fills defaultRandom(), defaultNow() and literal SQL defaults', async () => {
    const before = Date.now();
    const [row] = await db.insert(items).values({ label: 'defaults' }).returning();
    expect(row!.token).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(row!.createdAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(row).toMatchObject({ status: 'draft', rank: 42, flag: true, meta: { a: 1 } });
    const [read] = await db.select().from(items).where(eq(items.id, row!.id));
    expect(read).toEqual(row);
    const [next] = await db.insert(items).values({ label: 'second' }).returning();
    expect(next!.token).not.toBe(row!.token);
  });

  it('refuses any other SQL default with SchemaError, unless a value is given', async () => {
    await expect(db.insert(odd).values({ id: 1 })).rejects.toBeInstanceOf(SchemaError);
    await expect(db.insert(odd).values({ id: 1 })).rejects.toThrow(/md5\(random\(\)::text\)/);
    await db.insert(odd).values({ id: 1, code: 'given' });
    expect(await db.select().from(odd)).toEqual([{ id: 1, code: 'given' }]);
  });

  it('checks a literal default against its column', async () => {
    const bad = pgTable('bad_default', { id: integer().primaryKey(), n: integer().default(sql`'many'`) });
    const bad2 = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: { bad } });
    try {
      await bad2.migrate();
      await expect(bad2.insert(bad).values({ id: 1 })).rejects.toThrow(/expected a 32-bit integer/);
      await expect(bad2.insert(bad).values({ id: 1 })).rejects.toBeInstanceOf(SchemaError);
    } finally {
      await bad2.close();
    }
  });

  it('refuses sequences it cannot honour when the schema is given', () => {
    const cycling = pgTable('cycling', { id: integer().generatedAlwaysAsIdentity({ cycle: true }).primaryKey() });
    const reserved = pgTable('percolator_id_blocks', { name: text().primaryKey() });
    return Promise.all([
      expect(percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: { cycling } })).rejects.toThrow(/cycling sequences/),
      expect(percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: { reserved } })).rejects.toBeInstanceOf(SchemaError),
      expect(db.insert(items).values({ label: 'x', id: 1.5 })).rejects.toBeInstanceOf(InvalidInputError),
    ]);
  });
});
