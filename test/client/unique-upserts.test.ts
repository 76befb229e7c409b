import { asc, eq, sql } from 'drizzle-orm';
import { integer, pgTable, text, varchar } from 'drizzle-orm/pg-core';
import fc from 'fast-check';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InvalidInputError, UniqueViolationError } from '../../src/index.js';
import type { Database } from '../../src/client/database.js';
import { useLocalDatabase } from '../support/local-database.js';
import { useDatabase } from '../support/database-fixture.js';

// A unique email on a table keyed by id: upserts whose conflict target is the unique index.
const members = pgTable('members', { id: integer().primaryKey(), email: varchar({ length: 32 }).notNull().unique(), hits: integer().notNull(), note: text() });
const schema = { members };

const fixture = useDatabase(schema, { maxRetries: 200, retryBackoff: { initialMs: 2, maxMs: 50 } });
const both = useLocalDatabase(fixture, schema);

beforeAll(async () => {
  await both.local.pool.query('create unique index members_email_unique on members (email)');
});

beforeEach(async () => {
  await both.db.delete(members);
  await both.local.truncate();
});

type Writer = Pick<Database<typeof schema>, 'insert'>;
const upserts = {
  nothingOnEmail: (d: Writer, rows: (typeof members.$inferInsert)[]) => d.insert(members).values(rows).onConflictDoNothing({ target: members.email }).returning(),
  nothingOnAny: (d: Writer, rows: (typeof members.$inferInsert)[]) => d.insert(members).values(rows).onConflictDoNothing().returning(),
  bumpOnEmail: (d: Writer, rows: (typeof members.$inferInsert)[]) =>
    d.insert(members).values(rows).onConflictDoUpdate({ target: members.email, set: { hits: sql`${members.hits} + excluded.hits`, note: sql`excluded.note` } }).returning(),
  setOnEmailWhere: (d: Writer, rows: (typeof members.$inferInsert)[]) =>
    d.insert(members).values(rows).onConflictDoUpdate({ target: [members.email], set: { note: 'hit' }, setWhere: sql`${members.hits} > 2` }).returning(),
};

/** A statement's rows, or 'unique' for a unique violation. */
async function outcome(run: () => PromiseLike<unknown>, isUniqueViolation: (error: unknown) => boolean): Promise<unknown> {
  try {
    return { ok: await run() };
  } catch (error) {
    if (isUniqueViolation(error)) return { error: 'unique' };
    throw error;
  }
}

describe('upserts on a unique index', () => {
  it('give the rows and results Postgres gives, for random rows', async () => {
    const row = fc.record({ id: fc.integer({ min: 1, max: 12 }), email: fc.constantFrom('a@x', 'b@x', 'c@x', 'd@x', 'e@x'), hits: fc.integer({ min: 0, max: 5 }), note: fc.option(fc.constantFrom('n', 'm'), { nil: null }) });
    // One statement's rows: distinct ids and emails (Postgres refuses a do update touching a row twice, and so does the client).
    const batch = fc.uniqueArray(row, { selector: (r) => r.email, minLength: 1, maxLength: 4 }).filter((rows) => new Set(rows.map((r) => r.id)).size === rows.length);
    const op = fc.tuple(fc.constantFrom(...(Object.keys(upserts) as (keyof typeof upserts)[])), batch);
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 6 }), async (ops) => {
        await both.db.delete(members);
        await both.local.truncate();
        for (const [name, rows] of ops) {
          const expected = await outcome(() => upserts[name](both.local.db as unknown as Writer, rows), (error) => (error as { cause?: { code?: string } }).cause?.code === '23505');
          const actual = await outcome(() => upserts[name](both.db, rows), (error) => error instanceof UniqueViolationError);
          expect(actual, name).toEqual(expected);
        }
        expect(await both.db.select().from(members).orderBy(asc(members.id))).toEqual(await both.local.db.select().from(members).orderBy(asc(members.id)));
      }),
      { numRuns: 25 },
    );
  });

  it('refuses a target that is no unique index, and a proposed row whose primary key is taken', async () => {
    await expect(both.db.insert(members).values({ id: 1, email: 'a@x', hits: 0 }).onConflictDoNothing({ target: members.hits })).rejects.toThrow(/target: members\.id \(members_pkey\) or target: members\.email \(members_email_unique\)/);
    await both.db.insert(members).values({ id: 1, email: 'a@x', hits: 0 });
    await expect(both.db.insert(members).values({ id: 1, email: 'b@x', hits: 0 }).onConflictDoUpdate({ target: members.email, set: { hits: 1 } })).rejects.toBeInstanceOf(UniqueViolationError);
    await expect(both.db.insert(members).values([{ id: 2, email: 'c@x', hits: 0 }, { id: 3, email: 'c@x', hits: 0 }]).onConflictDoUpdate({ target: members.email, set: { hits: 1 } })).rejects.toThrow(InvalidInputError);
  });

  it('loses no upsert of one email by 16 concurrent clients', async () => {
    const clients = Array.from({ length: 16 }, (_, i) =>
      both.db.insert(members).values({ id: 100 + i, email: 'hot@x', hits: 1 }).onConflictDoUpdate({ target: members.email, set: { hits: sql`${members.hits} + 1` } }),
    );
    await Promise.all(clients);
    const rows = await both.db.select().from(members).where(eq(members.email, 'hot@x'));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.hits).toBe(16);
  });
});
