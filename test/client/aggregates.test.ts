import { and, asc, avg, avgDistinct, count, countDistinct, desc, eq, gt, isNull, lt, max, min, or, sql, sum, sumDistinct, type SQL } from 'drizzle-orm';
import { integer, numeric, pgTable, primaryKey, text, varchar } from 'drizzle-orm/pg-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { InvalidInputError, SerializationError } from '../../src/index.js';
import { describeTable } from '../../src/schema/table-meta.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import type { Database } from '../../src/client/database.js';
import { useLocalDatabase } from '../support/local-database.js';
import { useDatabase } from '../support/database-fixture.js';
import { pausePoint } from '../support/pause-point.js';

const orders = pgTable(
  'orders',
  { accountId: integer('account_id').notNull(), id: integer().notNull(), amount: integer().notNull(), price: numeric({ precision: 12, scale: 2 }), note: text() },
  (t) => [primaryKey({ columns: [t.accountId, t.id] })],
);
const accounts = pgTable('accounts', { id: integer().primaryKey(), balance: integer().notNull(), owner: varchar({ length: 16 }) });
const schema = { orders, accounts };
type Order = typeof orders.$inferInsert;

const fixture = useDatabase(schema, { shardKeys: { orders: ['accountId'] }, maxRetries: 200, retryBackoff: { initialMs: 2, maxMs: 50 } });
const both = useLocalDatabase(fixture, schema);

const orderRow = fc.record({
  accountId: fc.integer({ min: 1, max: 6 }),
  id: fc.integer({ min: 1, max: 40 }),
  amount: fc.integer({ min: -50, max: 100 }),
  price: fc.option(fc.integer({ min: -10_000, max: 10_000 }).map((cents) => (cents / 100).toFixed(cents % 3 === 0 ? 1 : 2)), { nil: null }),
  note: fc.option(fc.constantFrom('a', 'b', 'B', 'é', 'zz'), { nil: null }),
});
const orderRows = fc.uniqueArray(orderRow, { selector: (r) => `${r.accountId}/${r.id}`, maxLength: 60 });
const filters: Record<string, SQL | undefined> = {
  none: undefined,
  amountAbove20: gt(orders.amount, 20),
  account3: eq(orders.accountId, 3),
  account2OrSmall: or(eq(orders.accountId, 2), lt(orders.amount, 10)),
  noNote: isNull(orders.note),
  fragment: sql`${orders.amount} % 3 = 0`,
};
const filter = fc.constantFrom(...Object.keys(filters));

/** The constructs compared with Postgres: each runs the same drizzle query on the client and on `local`. */
type Reader = Pick<Database<typeof schema>, 'select' | 'selectDistinct' | '$count'>;
const constructs: Record<string, (d: Reader, where: SQL | undefined) => Promise<unknown>> = {
  totals: (d, where) =>
    d.select({ n: count(), counted: count(orders.note), total: sum(orders.amount), mean: avg(orders.amount), lo: min(orders.amount), hi: max(orders.amount), notes: countDistinct(orders.note), money: sum(orders.price), meanMoney: avg(orders.price), top: max(orders.note), cheapest: min(orders.price) }).from(orders).where(where),
  distinctSums: (d, where) => d.select({ s: sumDistinct(orders.amount), a: avgDistinct(orders.amount), p: countDistinct(orders.price) }).from(orders).where(where),
  perAccount: (d, where) => d.select({ accountId: orders.accountId, n: count(), total: sum(orders.amount), mean: avg(orders.price) }).from(orders).where(where).groupBy(orders.accountId).orderBy(orders.accountId),
  perNote: (d, where) => d.select({ note: orders.note, n: count(), ids: countDistinct(orders.id) }).from(orders).where(where).groupBy(orders.note).orderBy(desc(orders.note)),
  perParity: (d, where) => d.select({ odd: sql<number>`${orders.amount} % 2`.mapWith(Number), n: count() }).from(orders).where(where).groupBy(sql`${orders.amount} % 2`).orderBy(asc(sql`${orders.amount} % 2`)),
  busyAccounts: (d, where) => d.select({ accountId: orders.accountId, n: count() }).from(orders).where(where).groupBy(orders.accountId).having(gt(count(), 2)).orderBy(desc(count()), orders.accountId),
  distinctNotes: (d, where) => d.selectDistinct({ note: orders.note }).from(orders).where(where).orderBy(orders.note),
  distinctPairs: (d, where) => d.selectDistinct({ accountId: orders.accountId, note: orders.note }).from(orders).where(where).orderBy(orders.accountId, orders.note).limit(5).offset(1),
  count: async (d, where) => d.$count(orders, where),
};

async function load(rows: Order[]): Promise<void> {
  await both.db.delete(orders);
  await both.local.db.delete(orders);
  if (rows.length > 0) await Promise.all([both.db.insert(orders).values(rows), both.local.db.insert(orders).values(rows)]);
}

describe('aggregates, groupBy, selectDistinct and $count', () => {
  it('give what Postgres gives, at a snapshot, while a writer changes the rows', async () => {
    await fc.assert(
      fc.asyncProperty(orderRows, fc.uniqueArray(filter, { minLength: 2, maxLength: 4 }), async (rows, names) => {
        await load(rows);
        const ts = await both.db.currentTimestamp();
        // The writer keeps rewriting every row (commits and pending locks the readers meet) while they read at ts.
        let writing = true;
        const writer = (async () => {
          while (writing) {
            await both.db.update(orders).set({ amount: sql`${orders.amount} + 7`, note: 'w' }).where(gt(orders.id, 0));
            await both.db.insert(orders).values({ accountId: 1, id: 1000, amount: 1 }).onConflictDoUpdate({ target: [orders.accountId, orders.id], set: { amount: sql`${orders.amount} + 1` } });
          }
        })();
        try {
          for (const filterName of names) {
            const where = filters[filterName];
            for (const [name, run] of Object.entries(constructs)) {
              const expected = await run(both.local.db as unknown as Reader, where);
              expect(await run(both.db.asOf(ts), where), `${name} where ${filterName}`).toEqual(expected);
            }
          }
        } finally {
          writing = false;
          await writer;
        }
      }),
      { numRuns: 6 },
    );
  });

  it("see the transaction's own buffered writes", async () => {
    await load([{ accountId: 1, id: 1, amount: 10 }, { accountId: 2, id: 1, amount: 20 }]);
    await both.db.transaction(async (tx) => {
      await tx.insert(orders).values({ accountId: 3, id: 1, amount: 5, note: 'x' });
      await tx.update(orders).set({ amount: sql`${orders.amount} * 2` }).where(eq(orders.accountId, 1));
      await tx.delete(orders).where(eq(orders.accountId, 2));
      expect(await tx.select({ n: count(), total: sum(orders.amount), notes: countDistinct(orders.note) }).from(orders)).toEqual([{ n: 2, total: '25', notes: 1 }]);
      expect(await tx.$count(orders, eq(orders.accountId, 3))).toBe(1);
    });
  });

  it('refuse what they cannot combine, before reading', async () => {
    await expect(both.db.select({ n: count() }).from(orders).groupBy(orders.note).having(gt(count(), 1))).rejects.toThrow(/having\(\) over groups that span shards is not supported; include the shard key \(orders\.accountId\)/);
    await expect(both.db.select({ note: orders.note, n: count() }).from(orders)).rejects.toThrow(/must appear in groupBy/);
    await expect(both.db.select({ x: sql`${orders.amount} + 1` }).from(orders).groupBy(orders.note)).rejects.toThrow(/neither a group-by term nor one of drizzle's aggregates/);
    await expect(both.db.select({ n: count() }).from(orders).for('update')).rejects.toThrow(InvalidInputError);
    expect(() => both.db.select({ n: count() }).from(orders).groupBy(orders.accountId).innerJoin(accounts, eq(orders.accountId, accounts.id))).toThrow(/joins are supported for plain selects/);
  });
});

describe('a filtered aggregate meets a pending delete of a row it counts', () => {
  // Another client's delete is held between taking its commit timestamp and committing its primary. Its pending
  // image (a deletion) does not match the filter: only the lock on a key the aggregate counts stands in the way, and
  // the reader must push the owner past its snapshot (docs/DESIGN.md), not read past it.
  it('pushes the deleting transaction, whose commit then lands above the snapshot', async () => {
    await load([{ accountId: 1, id: 1, amount: 10 }, { accountId: 1, id: 2, amount: 20 }]);
    const pause = pausePoint();
    const timestampSource = await fixture.cluster.createTimestampSource();
    const engine = createTransactionEngine({ shards: fixture.cluster.shardUrls, timestampSource, registry: new Registry(), hooks: { beforeCommitPrimary: pause.hook } });
    const ordersMeta = describeTable(orders, { shardKey: ['accountId'] });
    engine.register([ordersMeta]);
    try {
      const tx = await engine.begin();
      tx.delete(ordersMeta, [[1, 2]]);
      const committed = tx.commit();
      await pause.reached;
      const before = await both.db.currentTimestamp();
      expect(await both.db.$count(orders, gt(orders.amount, 5))).toBe(2);
      pause.release();
      expect((await committed).commitTs).toBeGreaterThan(before);
      expect(await both.db.$count(orders, gt(orders.amount, 5))).toBe(1);
    } finally {
      pause.release();
      await engine.close();
      await timestampSource.close();
    }
  });
});

describe('serializable aggregates', () => {
  it('a concurrent insert into, or delete from, the aggregated range is a SerializationError', async () => {
    for (const change of ['insert', 'delete', 'update out'] as const) {
      await load([{ accountId: 1, id: 1, amount: 10 }, { accountId: 1, id: 2, amount: 20 }, { accountId: 4, id: 1, amount: 1 }]);
      const attempt = both.db.transaction(
        async (tx) => {
          const [row] = await tx.select({ total: sum(orders.amount) }).from(orders).where(and(eq(orders.accountId, 1), gt(orders.amount, 5)));
          if (change === 'insert') await both.db.insert(orders).values({ accountId: 1, id: 3, amount: 7 });
          else if (change === 'delete') await both.db.delete(orders).where(and(eq(orders.accountId, 1), eq(orders.id, 2)));
          else await both.db.update(orders).set({ amount: 0 }).where(and(eq(orders.accountId, 1), eq(orders.id, 1)));
          await tx.insert(orders).values({ accountId: 4, id: 2, amount: Number(row!.total) });
        },
        { isolation: 'serializable', maxRetries: 0 },
      );
      await expect(attempt, change).rejects.toBeInstanceOf(SerializationError);
    }
  });

  it('a change outside the aggregated range commits', async () => {
    await load([{ accountId: 1, id: 1, amount: 10 }, { accountId: 4, id: 1, amount: 1 }]);
    await both.db.transaction(
      async (tx) => {
        await tx.select({ total: sum(orders.amount) }).from(orders).where(eq(orders.accountId, 1));
        await both.db.insert(orders).values({ accountId: 2, id: 3, amount: 7 });
        await tx.insert(orders).values({ accountId: 4, id: 2, amount: 1 });
      },
      { isolation: 'serializable', maxRetries: 0 },
    );
  });
});

describe('bank with sql increments and upserts', () => {
  it('keeps the total, read by sum() at snapshots while transfers run', async () => {
    await both.db.delete(accounts);
    await both.db.insert(accounts).values(Array.from({ length: 10 }, (_, i) => ({ id: i + 1, balance: 100 })));
    let running = true;
    const totals: unknown[] = [];
    const reader = (async () => {
      while (running) totals.push(...(await both.db.select({ total: sum(accounts.balance), n: count() }).from(accounts)).map((r) => r.total));
    })();
    const transfers = Array.from({ length: 8 }, (_, client) =>
      (async () => {
        for (let i = 0; i < 15; i++) {
          const from = 1 + ((client + i) % 10);
          const to = 1 + ((client * 7 + i * 3) % 15); // accounts 11..15 are created by the upsert
          const amount = 1 + ((client + i) % 9);
          await both.db.transaction(async (tx) => {
            await tx.update(accounts).set({ balance: sql`${accounts.balance} - ${amount}` }).where(eq(accounts.id, from));
            await tx.insert(accounts).values({ id: to, balance: amount }).onConflictDoUpdate({ target: accounts.id, set: { balance: sql`${accounts.balance} + excluded.balance` } });
          });
        }
      })(),
    );
    await Promise.all(transfers);
    running = false;
    await reader;
    expect(totals.length).toBeGreaterThan(0);
    expect(new Set(totals)).toEqual(new Set(['1000']));
    expect(await both.db.select({ total: sum(accounts.balance) }).from(accounts)).toEqual([{ total: '1000' }]);
  });
});
