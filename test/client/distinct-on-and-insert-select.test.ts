import { asc, count, desc, eq, gt, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import { integer, numeric, pgTable, primaryKey, serial, text } from 'drizzle-orm/pg-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidInputError, SerializationError, UniqueViolationError } from '../../src/index.js';
import type { Database } from '../../src/client/database.js';
import { useLocalDatabase } from '../support/local-database.js';
import { useDatabase } from '../support/database-fixture.js';

const orders = pgTable(
  'orders',
  { accountId: integer('account_id').notNull(), id: integer().notNull(), amount: integer().notNull(), price: numeric({ precision: 12, scale: 2 }), note: text() },
  (t) => [primaryKey({ columns: [t.accountId, t.id] })],
);
// The same columns, sharded by the whole key: an insert-select moves rows between shards.
const archive = pgTable(
  'archive',
  { accountId: integer('account_id').notNull(), id: integer().notNull(), amount: integer().notNull(), price: numeric({ precision: 12, scale: 2 }), note: text() },
  (t) => [primaryKey({ columns: [t.accountId, t.id] })],
);
const amounts = pgTable('amounts', { id: serial().primaryKey(), amount: integer().notNull() });
const schema = { orders, archive, amounts };
type Order = typeof orders.$inferInsert;

const fixture = useDatabase(schema, { shardKeys: { orders: ['accountId'] }, maxRetries: 200, retryBackoff: { initialMs: 2, maxMs: 50 } });
const both = useLocalDatabase(fixture, schema);

const orderRow = fc.record({
  accountId: fc.integer({ min: 1, max: 6 }),
  id: fc.integer({ min: 1, max: 40 }),
  amount: fc.integer({ min: -5, max: 5 }),
  price: fc.option(fc.integer({ min: -300, max: 300 }).map((cents) => (cents / 100).toFixed(cents % 3 === 0 ? 1 : 2)), { nil: null }),
  note: fc.option(fc.constantFrom('a', 'b', 'B', 'é', 'zz'), { nil: null }),
});
const orderRows = fc.uniqueArray(orderRow, { selector: (r) => `${r.accountId}/${r.id}`, maxLength: 50 });
const filters: Record<string, SQL | undefined> = {
  none: undefined,
  amountAbove0: gt(orders.amount, 0),
  account3: eq(orders.accountId, 3),
  account2OrSmall: or(eq(orders.accountId, 2), lt(orders.amount, -2)),
  noNote: isNull(orders.note),
};

type Queries = Pick<Database<typeof schema>, 'select' | 'selectDistinctOn' | 'insert'>;
/** Each runs the same drizzle query on the client and on `local`; every orderBy ends in the primary key, so the first row of a value is one row. */
const constructs: Record<string, (d: Queries, where: SQL | undefined) => Promise<unknown>> = {
  latestPerAccount: (d, where) => d.selectDistinctOn([orders.accountId]).from(orders).where(where).orderBy(orders.accountId, desc(orders.id)),
  biggestPerNote: (d, where) =>
    d.selectDistinctOn([orders.note], { note: orders.note, accountId: orders.accountId, id: orders.id, amount: orders.amount }).from(orders).where(where).orderBy(desc(orders.note), desc(orders.amount), orders.accountId, orders.id).limit(3).offset(1),
  perPair: (d, where) => d.selectDistinctOn([orders.note, orders.accountId]).from(orders).where(where).orderBy(orders.accountId, desc(orders.note), orders.amount, orders.id),
  perPrice: (d, where) => d.selectDistinctOn([orders.price], { price: orders.price, id: orders.id, accountId: orders.accountId }).from(orders).where(where).orderBy(asc(orders.price), orders.accountId, orders.id),
  insertSelect: async (d, where) => {
    await d.insert(archive).select(d.select().from(orders).where(where));
    return d.select().from(archive).orderBy(archive.accountId, archive.id);
  },
};

async function load(rows: Order[]): Promise<void> {
  for (const table of [orders, archive]) {
    await both.db.delete(table);
    await both.local.db.delete(table);
  }
  if (rows.length > 0) await Promise.all([both.db.insert(orders).values(rows), both.local.db.insert(orders).values(rows)]);
}

/** Buffered writes made before reading: an insert, an update and a delete across shards. */
async function write(d: Queries & Pick<Database<typeof schema>, 'update' | 'delete'>, extra: Order[]): Promise<void> {
  if (extra.length > 0) await d.insert(orders).values(extra);
  await d.update(orders).set({ amount: sql`${orders.amount} + 3`, note: 'b' }).where(eq(orders.accountId, 2));
  await d.delete(orders).where(sql`${orders.id} % 4 = 0`);
}

class Rollback extends Error {}

describe('selectDistinctOn and insert-select', () => {
  it('give what Postgres gives, in both isolation levels, with the transaction\'s own writes', async () => {
    const extraRows = fc.uniqueArray(orderRow.map((r) => ({ ...r, id: r.id + 100 })), { selector: (r) => `${r.accountId}/${r.id}`, maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(orderRows, extraRows, fc.constantFrom(...Object.keys(filters)), fc.constantFrom('snapshot' as const, 'serializable' as const), async (rows, extra, filterName, isolation) => {
        await load(rows);
        const where = filters[filterName];
        for (const [name, run] of Object.entries(constructs)) {
          let expected: unknown;
          await both.local.db.transaction(async (ltx) => {
            await write(ltx as never, extra);
            expected = await run(ltx as unknown as Queries, where);
            throw new Rollback();
          }).catch((e: unknown) => { if (!(e instanceof Rollback)) throw e; });
          let actual: unknown;
          await both.db.transaction(async (tx) => {
            await write(tx as never, extra);
            actual = await run(tx as unknown as Queries, where);
            throw new Rollback();
          }, { isolation }).catch((e: unknown) => { if (!(e instanceof Rollback)) throw e; });
          expect(actual, `${name} where ${filterName} (${isolation})`).toEqual(expected);
        }
      }),
      { numRuns: 8 },
    );
  });

  it('selectDistinctOn gives what Postgres gives, at a snapshot, while a writer changes the rows', async () => {
    const reads = Object.entries(constructs).filter(([name]) => name !== 'insertSelect');
    await fc.assert(
      fc.asyncProperty(orderRows, fc.constantFrom(...Object.keys(filters)), async (rows, filterName) => {
        await load(rows);
        const ts = await both.db.currentTimestamp();
        // The writer keeps changing the values and notes the reads order and de-duplicate by, and adds a row: the readers meet newer versions and pending locks.
        let writing = true;
        const writer = (async () => {
          while (writing) {
            await both.db.update(orders).set({ amount: sql`${orders.amount} + 7`, note: sql`case when ${orders.note} = 'a' then 'b' else 'a' end` }).where(gt(orders.id, 0));
            await both.db.insert(orders).values({ accountId: 1, id: 1000, amount: 1 }).onConflictDoUpdate({ target: [orders.accountId, orders.id], set: { amount: sql`${orders.amount} - 1` } });
          }
        })();
        try {
          const where = filters[filterName];
          for (const [name, run] of reads) {
            const expected = await run(both.local.db as unknown as Queries, where);
            expect(await run(both.db.asOf(ts) as unknown as Queries, where), `${name} where ${filterName}`).toEqual(expected);
          }
        } finally {
          writing = false;
          await writer;
        }
      }),
      { numRuns: 6 },
    );
  });

  it('selectDistinctOn outside a transaction, and insert-select committing in its own', async () => {
    await load([{ accountId: 1, id: 1, amount: 1 }, { accountId: 1, id: 2, amount: 9 }, { accountId: 2, id: 1, amount: 4 }]);
    expect(await both.db.selectDistinctOn([orders.accountId], { accountId: orders.accountId, amount: orders.amount }).from(orders).orderBy(orders.accountId, desc(orders.amount))).toEqual([
      { accountId: 1, amount: 9 },
      { accountId: 2, amount: 4 },
    ]);
    expect(await both.db.insert(archive).select(both.db.select().from(orders).where(gt(orders.amount, 2)))).toEqual({ rowCount: 2 });
    expect(await both.db.select({ id: archive.id, accountId: archive.accountId }).from(archive).orderBy(archive.accountId)).toEqual([{ id: 2, accountId: 1 }, { id: 1, accountId: 2 }]);
  });

  it('insert-select fails as a plain insert would on an existing key, and fills generated ids', async () => {
    await load([{ accountId: 1, id: 1, amount: 1 }, { accountId: 2, id: 1, amount: 4 }]);
    await both.db.insert(archive).values({ accountId: 2, id: 1, amount: 0 });
    await expect(both.db.insert(archive).select(both.db.select().from(orders))).rejects.toBeInstanceOf(UniqueViolationError);
    expect(await both.db.select().from(archive)).toEqual([{ accountId: 2, id: 1, amount: 0, price: null, note: null }]);
    await both.db.delete(amounts);
    const inserted = await both.db.insert(amounts).select(both.db.select({ amount: orders.amount }).from(orders)).returning();
    expect(inserted.map((r) => r.amount).sort()).toEqual([1, 4]);
    expect(new Set(inserted.map((r) => r.id)).size).toBe(2);
    expect(await both.db.select({ n: count() }).from(amounts)).toEqual([{ n: 2 }]);
  });

  it('serializable: a concurrent insert into the range a distinct on or an insert-select read is a SerializationError', async () => {
    for (const reader of ['distinctOn', 'insertSelect'] as const) {
      await load([{ accountId: 1, id: 1, amount: 1 }, { accountId: 4, id: 1, amount: 1 }]);
      const attempt = both.db.transaction(
        async (tx) => {
          if (reader === 'distinctOn') await tx.selectDistinctOn([orders.accountId]).from(orders).where(eq(orders.accountId, 1)).orderBy(orders.accountId, desc(orders.amount));
          else await tx.insert(archive).select(tx.select().from(orders).where(eq(orders.accountId, 1)));
          await both.db.insert(orders).values({ accountId: 1, id: 2, amount: 9 });
          await tx.insert(orders).values({ accountId: 4, id: 2, amount: 1 });
        },
        { isolation: 'serializable', maxRetries: 0 },
      );
      await expect(attempt, reader).rejects.toBeInstanceOf(SerializationError);
    }
  });

  it('refuses a distinct on whose orderBy does not start with its columns, as Postgres does', async () => {
    await expect(both.db.selectDistinctOn([orders.accountId]).from(orders).orderBy(orders.id)).rejects.toThrow(/must match initial ORDER BY/);
    await expect(both.local.db.selectDistinctOn([orders.accountId]).from(orders).orderBy(orders.id)).rejects.toMatchObject({ cause: { message: expect.stringMatching(/must match initial ORDER BY/) } });
    await expect(both.db.selectDistinctOn([orders.accountId, orders.note]).from(orders).orderBy(orders.accountId, orders.id)).rejects.toBeInstanceOf(InvalidInputError);
  });

  it('refuses distinct on expressions, with aggregates, groupBy, for(update) or a join', async () => {
    await expect(both.db.selectDistinctOn([sql`${orders.amount} % 2`]).from(orders)).rejects.toBeInstanceOf(InvalidInputError);
    await expect(both.db.selectDistinctOn([desc(orders.amount)]).from(orders)).rejects.toBeInstanceOf(InvalidInputError);
    await expect(both.db.selectDistinctOn([]).from(orders)).rejects.toBeInstanceOf(InvalidInputError);
    await expect(both.db.selectDistinctOn([orders.accountId], { n: count() }).from(orders)).rejects.toBeInstanceOf(InvalidInputError);
    await expect(both.db.selectDistinctOn([orders.accountId]).from(orders).groupBy(orders.accountId)).rejects.toBeInstanceOf(InvalidInputError);
    await expect(both.db.selectDistinctOn([orders.accountId]).from(orders).for('update')).rejects.toBeInstanceOf(InvalidInputError);
    expect(() => both.db.selectDistinctOn([orders.accountId]).from(orders).innerJoin(archive, eq(orders.id, archive.id))).toThrow(InvalidInputError);
  });

  it('refuses insert-select of a raw sql select, a callback or a join', () => {
    expect(() => both.db.insert(archive).select(sql`select * from orders` as never)).toThrow(InvalidInputError);
    expect(() => both.db.insert(archive).select(((qb: Queries) => qb.select().from(orders)) as never)).toThrow(InvalidInputError);
    expect(() => both.db.insert(archive).select(both.db.select().from(orders).innerJoin(archive, eq(orders.id, archive.id)) as never)).toThrow(InvalidInputError);
  });
});
