import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { and, eq, getTableName, gt, inArray } from 'drizzle-orm';
import { date, integer, numeric, pgEnum, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError, ShardUnavailableError, UniqueViolationError, type Database } from '../../src/index.js';
import { canonicalKeyValue } from '../../src/client/key-values.js';
import { describeTable, type TableMeta } from '../../src/schema/table-meta.js';
import { shardOf, shardOfTexts } from '../../src/shard/shard-of.js';
import { useDatabase } from '../support/database-fixture.js';
import { countOnShards } from '../support/raw-shards.js';
import type { TestCluster } from '../support/test-cluster.js';

const users = pgTable('users', { id: uuid().primaryKey(), name: text().notNull() });
const events = pgTable('events', { at: timestamp({ withTimezone: true }).primaryKey(), what: text().notNull() });
const days = pgTable('days', { day: date({ mode: 'date' }).primaryKey(), note: text().notNull() });
const prices = pgTable('prices', { amount: numeric({ precision: 8, scale: 2 }).primaryKey(), label: text().notNull() });
const tier = pgEnum('tier', ['free', 'pro', 'team']);
const plans = pgTable('plans', { tier: tier().primaryKey(), seats: integer().notNull() });
const schema = { users, events, days, prices, plans };

const fixture = useDatabase(schema);
let cluster: TestCluster;
let db: Database<typeof schema>;
const once = { maxRetries: 0 };

beforeAll(() => {
  ({ cluster, db } = fixture);
});

/**
 * Runs `use` while shard 2 is stopped: reads that touch it fail, reads pinned
 * elsewhere work. First waits for the lazy secondary commits of earlier
 * inserts: a lock left on a live shard whose primary is on shard 2 could not
 * be resolved while it is down.
 */
async function withShard2Down(use: () => Promise<void>): Promise<void> {
  const locks = `select ${Object.values(schema).map((t) => `(select count(*) from ${getTableName(t)}__locks)`).join(' + ')} as n`;
  for (let waited = 0; (await countOnShards(cluster.shardUrls, locks)).some((n) => n > 0); waited += 20) {
    if (waited > 10_000) throw new Error('locks of earlier inserts still there after 10 s');
    await sleep(20);
  }
  const down = cluster.shards.servers[2]!;
  await down.stop();
  try {
    await use();
  } finally {
    await down.start();
  }
}

/** Keys of `values` by the shard they live on (as the client places them). */
function byShard<T>(meta: TableMeta, column: string, values: readonly T[]): { alive: T[]; dead: T } {
  const shardOfValue = (value: T) => shardOf(meta, { [column]: value }, 3);
  const alive = values.filter((v) => shardOfValue(v) !== 2);
  const dead = values.find((v) => shardOfValue(v) === 2)!;
  expect(alive.length).toBeGreaterThan(1);
  expect(dead).toBeDefined();
  return { alive, dead };
}

describe('placement of canonical key texts', () => {
  it('keeps the placement of keys stored in canonical form: lower-case uuids, midnight dates, integers', () => {
    const id = randomUUID();
    const usersMeta = describeTable(users);
    const canonicalShard = (meta: TableMeta, column: string, value: unknown) =>
      shardOf(meta, { [column]: canonicalKeyValue(meta.columnsByKey.get(column)!.column, value) }, 3);
    // A key is placed by its driver text, as before: the client always wrote uuids lower-cased.
    expect(canonicalShard(usersMeta, 'id', id)).toBe(shardOfTexts([id], 3));
    expect(canonicalShard(usersMeta, 'id', id.toUpperCase())).toBe(shardOfTexts([id], 3));
    const daysMeta = describeTable(days);
    expect(canonicalShard(daysMeta, 'day', new Date('2024-03-05'))).toBe(shardOfTexts(['2024-03-05T00:00:00.000Z'], 3));
    expect(canonicalShard(daysMeta, 'day', new Date('2024-03-05T22:30:00Z'))).toBe(shardOfTexts(['2024-03-05T00:00:00.000Z'], 3));
    const pricesMeta = describeTable(prices);
    expect(canonicalShard(pricesMeta, 'amount', '01.50')).toBe(shardOfTexts(['1.5'], 3));
    const intMeta = describeTable(pgTable('ints', { id: integer().primaryKey() }));
    expect(shardOf(intMeta, { id: 42 }, 7)).toBe(shardOfTexts(['42'], 7));
  });
});

describe('uuid keys', () => {
  it('are point-read and pinned to one shard in any case spelling: reads work while another shard is down', async () => {
    // Random uuids, as many as it takes for two to live elsewhere and one on shard 2.
    const ids = Array.from({ length: 12 }, () => randomUUID());
    while (!ids.some((id) => shardOf(describeTable(users), { id }, 3) === 2)) ids.push(randomUUID());
    await db.insert(users).values(ids.map((id, i) => ({ id: i % 2 ? id.toUpperCase() : id, name: `u${i}` })));
    const { alive, dead } = byShard(describeTable(users), 'id', ids);
    await withShard2Down(async () => {
      const [row] = await db.transaction((tx) => tx.select().from(users).where(eq(users.id, alive[0]!.toUpperCase())), once);
      expect(row).toEqual({ id: alive[0], name: `u${ids.indexOf(alive[0]!)}` });
      const some = await db.transaction((tx) => tx.select().from(users).where(and(inArray(users.id, alive), gt(users.name, ''))), once);
      expect(some.map((r) => r.id).sort()).toEqual([...alive].sort());
      // Read once in a transaction, then answered from its view whatever the spelling.
      await db.transaction(async (tx) => {
        await tx.select().from(users).where(eq(users.id, alive[1]!));
        expect(await tx.select({ name: users.name }).from(users).where(eq(users.id, alive[1]!.toUpperCase()))).toHaveLength(1);
      }, once);
      await expect(db.transaction((tx) => tx.select().from(users), once)).rejects.toBeInstanceOf(ShardUnavailableError);
      await expect(db.transaction((tx) => tx.select().from(users).where(eq(users.id, dead)), once)).rejects.toBeInstanceOf(ShardUnavailableError);
    });
    await expect(db.insert(users).values({ id: ids[0]!.toUpperCase(), name: 'again' })).rejects.toBeInstanceOf(UniqueViolationError);
    await db.update(users).set({ name: 'renamed' }).where(eq(users.id, ids[1]!.toUpperCase()));
    expect(await db.select().from(users).where(eq(users.id, ids[1]!))).toEqual([{ id: ids[1], name: 'renamed' }]);
  });
});

describe('timestamp, date and numeric keys', () => {
  it('are point-read and pinned: reads work while another shard is down', async () => {
    const times = Array.from({ length: 12 }, (_, i) => new Date(Date.UTC(2024, 0, 1, 12, 0, i, 123)));
    await db.insert(events).values(times.map((at, i) => ({ at, what: `e${i}` })));
    const amounts = Array.from({ length: 12 }, (_, i) => `${i + 1}.5`);
    await db.insert(prices).values(amounts.map((amount) => ({ amount, label: `p${amount}` })));
    const dayValues = Array.from({ length: 12 }, (_, i) => new Date(Date.UTC(2024, 2, i + 1)));
    await db.insert(days).values(dayValues.map((day, i) => ({ day, note: `d${i}` })));
    const t = byShard(describeTable(events), 'at', times);
    const p = byShard(describeTable(prices), 'amount', amounts);
    const d = byShard(describeTable(days), 'day', dayValues);
    await withShard2Down(async () => {
      expect(await db.transaction((tx) => tx.select().from(events).where(eq(events.at, new Date(t.alive[0]!.getTime()))), once)).toHaveLength(1);
      expect(await db.transaction((tx) => tx.select().from(events).where(inArray(events.at, t.alive)), once)).toHaveLength(t.alive.length);
      // '3.50', '3.5' and '35e-1' are one key; Postgres prints it with the column's scale.
      const spelled = `0${p.alive[0]!}0`;
      expect(await db.transaction((tx) => tx.select().from(prices).where(eq(prices.amount, spelled)), once)).toEqual([{ amount: `${p.alive[0]}0`, label: `p${p.alive[0]}` }]);
      // A date read by any instant of its day.
      const evening = new Date(d.alive[0]!.getTime() + 20 * 3600_000);
      expect(await db.transaction((tx) => tx.select({ day: days.day }).from(days).where(eq(days.day, evening)), once)).toEqual([{ day: d.alive[0] }]);
      await expect(db.transaction((tx) => tx.select().from(events).where(eq(events.at, t.dead)), once)).rejects.toBeInstanceOf(ShardUnavailableError);
      await expect(db.transaction((tx) => tx.select().from(prices).where(eq(prices.amount, p.dead)), once)).rejects.toBeInstanceOf(ShardUnavailableError);
    });
    await expect(db.insert(days).values({ day: new Date(dayValues[0]!.getTime() + 3600_000), note: 'same day' })).rejects.toBeInstanceOf(UniqueViolationError);
    await expect(db.insert(prices).values({ amount: '1.50', label: 'same' })).rejects.toBeInstanceOf(UniqueViolationError);
  });

  it('refuses numeric keys Postgres would round, and a filter on one is no key lookup', async () => {
    await expect(db.insert(prices).values({ amount: '99.125', label: 'x' })).rejects.toThrow(InvalidInputError);
    await expect(db.insert(prices).values({ amount: '99.125', label: 'x' })).rejects.toThrow(/decimal places/);
    await db.insert(prices).values({ amount: '99.13', label: 'rounded' });
    // 99.125 is not 99.13 in SQL: the filter scans and finds nothing, as Postgres would.
    expect(await db.select().from(prices).where(eq(prices.amount, '99.125'))).toEqual([]);
    expect(await db.select().from(prices).where(eq(prices.amount, '99.130'))).toEqual([{ amount: '99.13', label: 'rounded' }]);
  });
});

describe('enum keys', () => {
  it('are inserted, point-read and pinned', async () => {
    await db.insert(plans).values([{ tier: 'free', seats: 1 }, { tier: 'pro', seats: 5 }, { tier: 'team', seats: 50 }]);
    const meta = describeTable(plans);
    const tiers = ['free', 'pro', 'team'] as const;
    const alive = tiers.filter((v) => shardOf(meta, { tier: v }, 3) !== 2);
    if (alive.length < tiers.length) {
      await withShard2Down(async () => {
        expect(await db.transaction((tx) => tx.select().from(plans).where(inArray(plans.tier, alive)), once)).toHaveLength(alive.length);
      });
    }
    expect(await db.select({ seats: plans.seats }).from(plans).where(eq(plans.tier, 'pro'))).toEqual([{ seats: 5 }]);
    await expect(db.insert(plans).values({ tier: 'pro', seats: 2 })).rejects.toBeInstanceOf(UniqueViolationError);
    await expect(db.insert(plans).values({ tier: 'gold' as 'pro', seats: 2 })).rejects.toBeInstanceOf(InvalidInputError);
    expect((await db.select().from(plans).orderBy(plans.tier)).map((r) => r.tier)).toEqual(['free', 'pro', 'team']);
  });
});
