import { and, asc, avg, count, countDistinct, desc, eq, gt, inArray, isNull, max, min, or, relations, sql, sum } from 'drizzle-orm';
import { integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { describe, expectTypeOf, it } from 'vitest';
import { percolator, type Database, type Timestamp, type Transaction, type UpdateQuery, type WriteResult } from '../../src/index.js';
import { accounts, gadgets, orders, schema, strangers } from '../support/client-schema.js';

/**
 * Type tests of the client API: checked by tsc (the unit project's typecheck,
 * and `npm run build`), never run. Every expectTypeOf must hold and every
 * `@ts-expect-error` must be an error, or the test fails.
 */
type Schema = typeof schema;
declare const db: Database<Schema>;
declare const tx: Transaction<Schema>;

type Account = { id: number; balance: number; owner: string | null; createdAt: Date };
type Order = { accountId: number; id: number; amount: number; note: string | null };

describe('select', () => {
  it('returns whole rows of the table it reads', async () => {
    expectTypeOf(await db.select().from(accounts)).toEqualTypeOf<Account[]>();
    expectTypeOf(await tx.select().from(orders)).toEqualTypeOf<Order[]>();
    expectTypeOf(await db.select().from(gadgets)).toEqualTypeOf<
      {
        id: bigint;
        name: string;
        price: string | null;
        weight: number | null;
        active: boolean;
        tag: string | null;
        feeling: 'sad' | 'ok' | 'happy' | null;
        spec: { size: number } | null;
        labels: string[] | null;
        updatedAt: Date | null;
      }[]
    >();
  });

  it('returns the keys of a partial selection, each with its column type', async () => {
    expectTypeOf(await db.select({ who: accounts.owner, n: accounts.balance }).from(accounts)).toEqualTypeOf<{ who: string | null; n: number }[]>();
    // @ts-expect-error no such column
    db.select({ colour: accounts.colour });
  });

  it('filters with drizzle operators typed by the column', async () => {
    const rows = await db
      .select()
      .from(accounts)
      .where(and(gt(accounts.balance, 0), or(isNull(accounts.owner), inArray(accounts.id, [1, 2])), sql`${accounts.owner} like 'a%'`));
    expectTypeOf(rows).toEqualTypeOf<Account[]>();
    // @ts-expect-error id is an integer column: a string is no value for it
    db.select().from(accounts).where(eq(accounts.id, '1'));
    // @ts-expect-error a filter is drizzle SQL, not a string
    db.select().from(accounts).where('id = 1');
  });

  it('keeps its row type through orderBy, limit, offset and for', async () => {
    const query = db.select({ id: orders.id }).from(orders).where(eq(orders.accountId, 1)).orderBy(asc(orders.id), desc(orders.amount)).limit(3).offset(1);
    expectTypeOf(await query).toEqualTypeOf<{ id: number }[]>();
    expectTypeOf(await tx.select().from(accounts).for('update', { wait: 100 })).toEqualTypeOf<Account[]>();
    expectTypeOf(await tx.select().from(accounts).for('no key update')).toEqualTypeOf<Account[]>();
    // @ts-expect-error shared row locks are not implemented
    tx.select().from(accounts).for('share');
    // @ts-expect-error limit takes a number
    db.select().from(accounts).limit('3');
  });

  it('types aggregates, groupBy, selectDistinct and $count as drizzle does', async () => {
    const totals = await db
      .select({ accountId: orders.accountId, n: count(), notes: countDistinct(orders.note), total: sum(orders.amount), mean: avg(orders.amount), lo: min(orders.amount), hi: max(orders.note) })
      .from(orders)
      .groupBy(orders.accountId)
      .having(gt(count(), 1));
    expectTypeOf(totals).toEqualTypeOf<{ accountId: number; n: number; notes: number; total: string | null; mean: string | null; lo: number | null; hi: string | null }[]>();
    expectTypeOf(await db.selectDistinct({ owner: accounts.owner }).from(accounts)).toEqualTypeOf<{ owner: string | null }[]>();
    expectTypeOf(await tx.$count(accounts, gt(accounts.balance, 0))).toEqualTypeOf<number>();
    expectTypeOf(await db.insert(accounts).values({ id: 1, balance: 1 }).onConflictDoUpdate({ target: accounts.id, set: { balance: sql`${accounts.balance} + 1` } }).returning()).toEqualTypeOf<Account[]>();
    expectTypeOf(await db.insert(accounts).values({ id: 1, balance: 1 }).onConflictDoNothing()).toEqualTypeOf<WriteResult>();
  });

  it('reads only tables of the schema', () => {
    // @ts-expect-error strangers is not in the schema given to percolator()
    db.select().from(strangers);
  });
});

describe('insert', () => {
  it('takes one row or an array; resolves to a row count, or the rows with returning()', async () => {
    expectTypeOf(await db.insert(orders).values({ accountId: 1, id: 2, amount: 3 })).toEqualTypeOf<WriteResult>();
    expectTypeOf(await db.insert(accounts).values([{ id: 1, balance: 2 }, { id: 2, balance: 0, owner: null }]).returning()).toEqualTypeOf<Account[]>();
    expectTypeOf(await tx.insert(accounts).values({ id: 3, balance: 0 }).returning({ id: accounts.id, at: accounts.createdAt })).toEqualTypeOf<{ id: number; at: Date }[]>();
    // Columns with a default and nullable ones may be left out.
    expectTypeOf(await db.insert(gadgets).values({ id: 1n, name: 'a', labels: ['x'], spec: { size: 1 } })).toEqualTypeOf<WriteResult>();
  });

  it('refuses unknown columns, missing required ones and values of the wrong type', () => {
    // @ts-expect-error unknown column
    db.insert(accounts).values({ id: 1, balance: 2, colour: 'red' });
    // @ts-expect-error balance is required (not null, no default)
    db.insert(accounts).values({ id: 1 });
    // @ts-expect-error balance is a number
    db.insert(accounts).values({ id: 1, balance: '2' });
    // @ts-expect-error null into a not-null column
    db.insert(accounts).values({ id: 1, balance: null });
    // @ts-expect-error gadgets.id is a bigint column (mode 'bigint')
    db.insert(gadgets).values({ id: 1, name: 'a' });
    // @ts-expect-error not a value of the enum
    db.insert(gadgets).values({ id: 1n, name: 'a', feeling: 'angry' });
    // @ts-expect-error spec is typed jsonb ($type<{ size: number }>)
    db.insert(gadgets).values({ id: 1n, name: 'a', spec: { size: 'large' } });
    // @ts-expect-error one bad row in an array
    db.insert(accounts).values([{ id: 1, balance: 2 }, { id: 2 }]);
  });
});

describe('update', () => {
  it('sets any subset of the columns; resolves to a row count, or the new rows with returning()', async () => {
    expectTypeOf(await db.update(accounts).set({ balance: 1 }).where(eq(accounts.id, 1))).toEqualTypeOf<WriteResult>();
    expectTypeOf(await tx.update(accounts).set({ owner: null }).returning()).toEqualTypeOf<Account[]>();
    expectTypeOf(await db.update(accounts).set({ balance: 1 }).where(eq(accounts.id, 1)).returning({ id: accounts.id })).toEqualTypeOf<{ id: number }[]>();
  });

  it('accepts SQL expressions and columns in set()', () => {
    expectTypeOf(db.update(accounts).set({ balance: sql`${accounts.balance} + 1`, owner: accounts.owner })).toEqualTypeOf<UpdateQuery<typeof accounts, WriteResult>>();
  });

  it('refuses unknown columns, null in not-null columns and wrong types', () => {
    // @ts-expect-error unknown column
    db.update(accounts).set({ colour: 'red' });
    // @ts-expect-error null into a not-null column
    db.update(accounts).set({ balance: null });
    // @ts-expect-error balance is a number
    db.update(accounts).set({ balance: '1' });
    // @ts-expect-error orders is not accounts
    db.update(orders).set({ balance: 1 });
  });
});

describe('delete', () => {
  it('resolves to a row count, or the deleted rows with returning()', async () => {
    expectTypeOf(await db.delete(orders).where(eq(orders.id, 1))).toEqualTypeOf<WriteResult>();
    expectTypeOf(await tx.delete(orders).where(eq(orders.id, 1)).returning()).toEqualTypeOf<Order[]>();
    expectTypeOf(await db.delete(orders).returning({ note: orders.note })).toEqualTypeOf<{ note: string | null }[]>();
    // @ts-expect-error strangers is not in the schema
    db.delete(strangers);
  });
});

describe('transactions', () => {
  it('hand the callback a Transaction of the schema and resolve to what it returns', async () => {
    const result = await db.transaction(async (t) => {
      expectTypeOf(t).toEqualTypeOf<Transaction<Schema>>();
      expectTypeOf(t.startTs).toEqualTypeOf<Timestamp>();
      const [a] = await t.select().from(accounts);
      return a?.balance;
    });
    expectTypeOf(result).toEqualTypeOf<number | undefined>();
    expectTypeOf(tx.rollback).returns.toBeNever();
  });

  it('take typed options, and an async callback', () => {
    db.transaction(async () => 1, { isolation: 'serializable', maxRetries: 0 });
    // @ts-expect-error isolation levels are 'snapshot' and 'serializable'
    db.transaction(async () => 1, { isolation: 'read committed' });
    // @ts-expect-error the callback returns a promise
    db.transaction(() => 1);
  });
});

describe('snapshots at a past timestamp', () => {
  it('are read-only and take a bigint timestamp', async () => {
    const ts = await db.currentTimestamp();
    expectTypeOf(ts).toEqualTypeOf<Timestamp>();
    expectTypeOf(await db.asOf(ts).select({ id: orders.id }).from(orders)).toEqualTypeOf<{ id: number }[]>();
    // @ts-expect-error read-only: no insert
    db.asOf(ts).insert(accounts);
    // @ts-expect-error read-only: no update
    db.asOf(ts).update(accounts);
    // @ts-expect-error timestamps are bigints
    db.asOf(1);
  });
});

describe('percolator()', () => {
  it('infers the schema, and shard keys name primary-key columns', async () => {
    const opened = await percolator({ oracle: ['127.0.0.1:1'], shards: ['postgres://x'], schema: { accounts, orders }, shardKeys: { orders: ['accountId'] } });
    expectTypeOf(opened).toEqualTypeOf<Database<{ accounts: typeof accounts; orders: typeof orders }>>();
    // @ts-expect-error gadgets is not in this schema
    opened.select().from(gadgets);
    // @ts-expect-error no such column
    percolator({ oracle: ['127.0.0.1:1'], shards: ['postgres://x'], schema: { orders }, shardKeys: { orders: ['account'] } });
  });
});

describe('joins', () => {
  it('key whole rows by table name, the left-joined one nullable', async () => {
    expectTypeOf(await db.select().from(accounts).innerJoin(orders, eq(accounts.id, orders.accountId))).toEqualTypeOf<{ accounts: Account; orders: Order }[]>();
    expectTypeOf(await tx.select().from(accounts).leftJoin(orders, eq(accounts.id, orders.accountId)).where(gt(orders.amount, 1)).orderBy(accounts.id).limit(2)).toEqualTypeOf<
      { accounts: Account; orders: Order | null }[]
    >();
  });

  it('make the selected columns of a left-joined table nullable', async () => {
    expectTypeOf(await db.select({ id: accounts.id, amount: orders.amount, note: orders.note }).from(accounts).leftJoin(orders, eq(accounts.id, orders.accountId))).toEqualTypeOf<
      { id: number; amount: number | null; note: string | null }[]
    >();
    expectTypeOf(await db.select({ id: accounts.id, amount: orders.amount }).from(accounts).innerJoin(orders, (t) => eq(t.accounts.id, t.orders.accountId))).toEqualTypeOf<{ id: number; amount: number }[]>();
  });
});

describe('relational queries', () => {
  const people = pgTable('people', { id: integer().primaryKey(), name: text().notNull() });
  const pets = pgTable('pets', { ownerId: integer('owner_id').notNull(), id: integer().notNull(), kind: text() }, (t) => [primaryKey({ columns: [t.ownerId, t.id] })]);
  const peopleRelations = relations(people, ({ many }) => ({ pets: many(pets) }));
  const petsRelations = relations(pets, ({ one }) => ({ owner: one(people, { fields: [pets.ownerId], references: [people.id] }) }));
  const related = { people, pets, peopleRelations, petsRelations };
  const rdb = null as unknown as Database<typeof related>;

  it('type findMany and findFirst as drizzle does', async () => {
    expectTypeOf(await rdb.query.people.findMany({ with: { pets: true } })).toEqualTypeOf<{ id: number; name: string; pets: { ownerId: number; id: number; kind: string | null }[] }[]>();
    expectTypeOf(await rdb.query.pets.findFirst({ columns: { kind: true }, with: { owner: { columns: { name: true } } } })).toEqualTypeOf<{ kind: string | null; owner: { name: string } } | undefined>();
    // @ts-expect-error no such relation
    await rdb.query.people.findMany({ with: { owner: true } });
  });
});
