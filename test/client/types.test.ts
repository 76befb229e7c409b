import { eq, sql } from 'drizzle-orm';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Database, Transaction, WriteResult } from '../../src/index.js';
import { accounts, orders, strangers } from './schema.js';

type Schema = { accounts: typeof accounts; orders: typeof orders };

/**
 * Compiled by `tsc --noEmit` (the project includes test/): every
 * `@ts-expect-error` below must be an error, every expectTypeOf must hold.
 * Never called at run time.
 */
async function typeChecks(db: Database<Schema>) {
  const rows = await db.select().from(accounts).where(eq(accounts.id, 1));
  expectTypeOf(rows).toEqualTypeOf<{ id: number; balance: number; owner: string | null; createdAt: Date }[]>();

  const partial = await db.select({ who: accounts.owner, n: accounts.balance }).from(accounts).orderBy(accounts.id).limit(3).offset(1);
  expectTypeOf(partial).toEqualTypeOf<{ who: string | null; n: number }[]>();

  expectTypeOf(await db.insert(orders).values({ accountId: 1, id: 2, amount: 3 })).toEqualTypeOf<WriteResult>();
  expectTypeOf(await db.insert(accounts).values([{ id: 1, balance: 2 }]).returning()).toEqualTypeOf<(typeof accounts.$inferSelect)[]>();
  expectTypeOf(await db.update(accounts).set({ balance: 1 }).where(eq(accounts.id, 1)).returning({ id: accounts.id })).toEqualTypeOf<{ id: number }[]>();
  expectTypeOf(await db.delete(orders).where(eq(orders.id, 1)).returning()).toEqualTypeOf<(typeof orders.$inferSelect)[]>();

  const result = await db.transaction(async (tx) => {
    expectTypeOf(tx).toEqualTypeOf<Transaction<Schema>>();
    const [a] = await tx.select().from(accounts);
    expectTypeOf(tx.rollback).returns.toBeNever();
    return a?.balance;
  });
  expectTypeOf(result).toEqualTypeOf<number | undefined>();
  expectTypeOf(await db.asOf(1n).select({ id: orders.id }).from(orders)).toEqualTypeOf<{ id: number }[]>();

  // @ts-expect-error table not in the schema
  db.select().from(strangers);
  // @ts-expect-error unknown column
  db.insert(accounts).values({ id: 1, balance: 2, colour: 'red' });
  // @ts-expect-error balance is required (not null, no default)
  db.insert(accounts).values({ id: 1 });
  // @ts-expect-error wrong JS type
  db.insert(accounts).values({ id: 1, balance: '2' });
  // @ts-expect-error null into a not-null column
  db.update(accounts).set({ balance: null });
  // @ts-expect-error a SQL expression in set()
  db.update(accounts).set({ balance: sql`balance + 1` });
  // @ts-expect-error snapshots at a past timestamp are read-only
  db.asOf(1n).insert(accounts);
  // @ts-expect-error timestamps are bigints
  db.asOf(1);
}
describe('types', () => {
  it('are checked by tsc (this file is part of the typecheck)', () => {
    expect(typeChecks).toBeTypeOf('function');
  });
});
