import { asc, eq, gt, inArray, sql } from 'drizzle-orm';
import { integer, pgTable, varchar } from 'drizzle-orm/pg-core';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/index.js';
import type { Database } from '../../src/client/database.js';
import { useLocalDatabase } from '../support/local-database.js';
import { useDatabase } from '../support/database-fixture.js';

const counters = pgTable('counters', { id: integer().primaryKey(), value: integer().notNull(), note: varchar({ length: 8 }) });
const accounts = pgTable('accounts', { id: integer().primaryKey(), balance: integer().notNull(), owner: varchar({ length: 16 }) });
const schema = { counters, accounts };

const fixture = useDatabase(schema, { maxRetries: 200, retryBackoff: { initialMs: 2, maxMs: 50 } });
const both = useLocalDatabase(fixture, schema);

beforeEach(async () => {
  await both.db.delete(counters);
  await both.db.delete(accounts);
  await both.local.truncate();
});

describe('expression updates', () => {
  it('a hot counter incremented with sql by 16 concurrent transactions loses no increment', async () => {
    await both.db.insert(counters).values({ id: 1, value: 0 });
    await Promise.all(
      Array.from({ length: 16 }, () =>
        both.db.transaction(async (tx) => {
          await tx.update(counters).set({ value: sql`${counters.value} + 1` }).where(eq(counters.id, 1));
        }),
      ),
    );
    expect(await both.db.select().from(counters)).toEqual([{ id: 1, value: 16, note: null }]);
  });

  it('16 concurrent upserts of one absent key: one inserts, the others increment', async () => {
    await Promise.all(
      Array.from({ length: 16 }, () =>
        both.db.insert(counters).values({ id: 2, value: 1 }).onConflictDoUpdate({ target: counters.id, set: { value: sql`${counters.value} + excluded.value` } }),
      ),
    );
    expect(await both.db.select().from(counters)).toEqual([{ id: 2, value: 16, note: null }]);
  });

  it('evaluates against the newest version after for update, and sees its own writes', async () => {
    await both.db.insert(counters).values({ id: 1, value: 10 });
    await both.db.transaction(async (tx) => {
      await both.db.update(counters).set({ value: 20 }).where(eq(counters.id, 1)); // committed after tx's snapshot
      await tx.select().from(counters).where(eq(counters.id, 1)).for('update');
      const [row] = await tx.update(counters).set({ value: sql`${counters.value} * 2` }).where(eq(counters.id, 1)).returning();
      expect(row).toEqual({ id: 1, value: 40, note: null });
      await tx.insert(counters).values({ id: 3, value: 1 });
      const again = await tx.update(counters).set({ value: sql`${counters.value} + 1`, note: 'x' }).where(inArray(counters.id, [1, 3])).returning({ id: counters.id, value: counters.value });
      expect(again.sort((a, b) => a.id - b.id)).toEqual([{ id: 1, value: 41 }, { id: 3, value: 2 }]);
    });
    expect(await both.db.select().from(counters).orderBy(counters.id)).toEqual([{ id: 1, value: 41, note: 'x' }, { id: 3, value: 2, note: 'x' }]);
  });

  it('refuses what it cannot evaluate safely, before anything is written', async () => {
    await both.db.insert(counters).values({ id: 1, value: 1, note: 'abc' });
    await expect(both.db.update(counters).set({ value: sql`(select 1)` })).rejects.toThrow(/"select"/);
    await expect(both.db.update(counters).set({ id: sql`${counters.id} + 1` })).rejects.toThrow(/primary-key column counters.id cannot be set by an expression/);
    await expect(both.db.update(counters).set({ value: sql`${accounts.balance}` })).rejects.toThrow(InvalidInputError);
    // A value too long for varchar(8) is refused, not truncated; null into a not-null column too.
    await expect(both.db.update(counters).set({ note: sql`${counters.note} || 'defghijkl'` })).rejects.toThrow(/longer|length|characters/);
    await expect(both.db.update(counters).set({ value: sql`null` })).rejects.toThrow(/not null/);
    expect(await both.db.select().from(counters)).toEqual([{ id: 1, value: 1, note: 'abc' }]);
  });

  it('refuses update ... from, saying what to write instead', () => {
    expect(() => both.db.update(counters).set({ value: 1 }).from(accounts)).toThrow(InvalidInputError);
    expect(() => both.db.update(counters).set({ value: 1 }).where(eq(counters.id, 1)).from(accounts)).toThrow(/read the other table first/);
  });
});

describe('upserts', () => {
  it('refuses targets other than the primary key or a unique index, naming what is supported', async () => {
    await expect(both.db.insert(accounts).values({ id: 1, balance: 1 }).onConflictDoUpdate({ target: accounts.owner, set: { balance: 2 } })).rejects.toThrow(
      /the conflict target must be the columns of the primary key or of a unique index: target: accounts\.id \(accounts_pkey\)/,
    );
    await expect(both.db.insert(accounts).values({ id: 1, balance: 1 }).onConflictDoNothing({ target: accounts.balance })).rejects.toThrow(InvalidInputError);
    await expect(both.db.insert(accounts).values([{ id: 1, balance: 1 }, { id: 1, balance: 2 }]).onConflictDoUpdate({ target: accounts.id, set: { balance: 3 } })).rejects.toThrow(/cannot affect a row twice/);
  });

  it('gives the same rows and results as Postgres, for random rows and upserts', async () => {
    const row = fc.record({ id: fc.integer({ min: 1, max: 30 }), balance: fc.integer({ min: -100, max: 100 }), owner: fc.option(fc.constantFrom('ann', 'bob', 'cy'), { nil: null }) });
    const rows = fc.uniqueArray(row, { selector: (r) => r.id, minLength: 1, maxLength: 8 });
    const op = fc.oneof(
      fc.record({ kind: fc.constant('nothing' as const), rows }),
      fc.record({ kind: fc.constant('add' as const), rows, above: fc.integer({ min: -50, max: 50 }) }),
      fc.record({ kind: fc.constant('replace' as const), rows }),
      fc.record({ kind: fc.constant('scale' as const), above: fc.integer({ min: -50, max: 50 }), factor: fc.integer({ min: -3, max: 3 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 6 }), async (ops) => {
        await both.db.delete(accounts);
        await both.local.truncate();
        for (const o of ops) {
          const [ours, theirs] = await Promise.all(
            [both.db, both.local.db].map(async (d) => {
              const target = d as unknown as Database<typeof schema>;
              if (o.kind === 'nothing') return target.insert(accounts).values(o.rows).onConflictDoNothing().returning();
              if (o.kind === 'add') {
                return target
                  .insert(accounts)
                  .values(o.rows)
                  .onConflictDoUpdate({ target: accounts.id, set: { balance: sql`${accounts.balance} + excluded.balance`, owner: sql`upper(${accounts.owner})` }, where: gt(accounts.balance, o.above) })
                  .returning();
              }
              if (o.kind === 'replace') return target.insert(accounts).values(o.rows).onConflictDoUpdate({ target: [accounts.id], set: { balance: 0, owner: sql`excluded.owner` } }).returning();
              return target.update(accounts).set({ balance: sql`${accounts.balance} * ${o.factor} + 1` }).where(gt(accounts.balance, o.above)).returning();
            }),
          );
          const byId = (a: { id: number }, b: { id: number }) => a.id - b.id;
          expect([...ours!].sort(byId)).toEqual([...theirs!].sort(byId));
        }
        expect(await both.db.select().from(accounts).orderBy(accounts.id)).toEqual(await both.local.db.select().from(accounts).orderBy(asc(accounts.id)));
      }),
      { numRuns: 15 },
    );
  });
});
