import { and, eq, gt, inArray, like, sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError, type Database } from '../../src/index.js';
import { accounts } from '../support/client-schema.js';
import { useDatabase } from '../support/database-fixture.js';

// A raw `sql` fragment in a filter is pasted into the statements that run on
// each shard: it may use the queried table's columns, values, operators and a
// fixed set of functions, never anything that names another relation.
const schema = { accounts };

const fixture = useDatabase(schema, {
  shards: 2,
  seed: async (db) => {
    await db.insert(accounts).values([{ id: 1, balance: 10, owner: 'Ann' }, { id: 2, balance: 21, owner: 'bob' }, { id: 3, balance: 33 }]);
  },
});
let db: Database<typeof schema>;

beforeAll(() => {
  db = fixture.db;
});

const ids = (rows: { id: number }[]): number[] => rows.map((r) => r.id).sort((a, b) => a - b);

describe('sql fragments in filters', () => {
  it('refuses fragments that reach other tables, catalogs or functions outside the list', async () => {
    const refused = [
      sql`exists(select 1 from accounts__locks)`,
      sql`exists (select 1 from "accounts__versions" v where v.commit_ts > 0)`,
      and(gt(accounts.balance, 0), sql`${accounts.id} in (select id from accounts__latest)`),
      sql`${accounts.id} = (select count(*) from pg_class)`,
      sql`${accounts.id} < ${sql.identifier('accounts__versions')}.commit_ts`,
      sql`length(query_to_xml('select * from accounts__locks', true, true, '')::text) > 0`,
      sql`true; select 1`,
      sql`true -- ${accounts.id} = 1`,
      sql`${accounts.balance} > $$1$$`,
      sql`${accounts.owner} = E'\\x41'`,
      sql`lower${1} = 1`,
      sql.raw('start_ts > 0'),
    ];
    for (const where of refused) {
      await expect(db.select().from(accounts).where(where), String(db.select().from(accounts).where(where))).rejects.toBeInstanceOf(InvalidInputError);
      await expect(db.update(accounts).set({ balance: 0 }).where(where)).rejects.toBeInstanceOf(InvalidInputError);
      await expect(db.delete(accounts).where(where)).rejects.toBeInstanceOf(InvalidInputError);
    }
    expect(ids(await db.select().from(accounts))).toEqual([1, 2, 3]);
    expect((await db.select().from(accounts).where(eq(accounts.id, 1)))[0]!.balance).toBe(10);
  });

  it('runs fragments over the table\'s own columns, values, operators and listed functions', async () => {
    expect(ids(await db.select().from(accounts).where(sql`${accounts.balance} % 3 = 0`))).toEqual([2, 3]);
    expect(ids(await db.select().from(accounts).where(sql`lower(${accounts.owner}) = ${'ann'}`))).toEqual([1]);
    expect(ids(await db.select().from(accounts).where(sql`coalesce(${accounts.owner}, 'none') = 'none' or ${accounts.balance}::text like '1%'`))).toEqual([1, 3]);
    expect(ids(await db.select().from(accounts).where(sql`${accounts.owner} is not distinct from null`))).toEqual([3]);
    expect(ids(await db.select().from(accounts).where(and(inArray(accounts.id, [1, 2]), like(accounts.owner, 'b%'))))).toEqual([2]);
    expect(ids(await db.select().from(accounts).where(sql`${accounts.balance} between 20 and 40 and not (${accounts.id} in ${[3]})`))).toEqual([2]);
  });
});
