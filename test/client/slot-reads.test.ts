import { count, eq, inArray, sum } from 'drizzle-orm';
import { index, integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { percolator, type Database } from '../../src/index.js';
import { describeTable } from '../../src/schema/table-meta.js';
import { slotOf } from '../../src/shard/shard-of.js';
import type { Statement } from '../../src/shard/shard-pool.js';
import { deleteSlotRows, receiveSlots } from '../../src/shard/slot-ownership-statements.js';
import { switchSlots } from '../../src/txn/slot-switch.js';
import { useDatabase } from '../support/database-fixture.js';
import { withIndexStorages } from '../support/slot-rows.js';

// Users and their posts share a slot per user (posts by authorId); users' team index has entries of its own slots.
const users = pgTable('r_users', { id: integer().primaryKey(), name: text().notNull(), team: integer().notNull() }, (t) => [index('r_users_team_idx').on(t.team)]);
const posts = pgTable(
  'r_posts',
  { authorId: integer('author_id').notNull(), id: integer().notNull(), amount: integer().notNull() },
  (t) => [primaryKey({ columns: [t.authorId, t.id] })],
);
const schema = { users, posts };
type Db = Database<typeof schema>;
const storages = withIndexStorages([describeTable(users), describeTable(posts, { shardKey: ['authorId'] })]);
const usersMeta = storages[0]!;
const TEAMS = 5;

async function onShard<R extends pg.QueryResultRow>(url: string, statement: Statement | string): Promise<R[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    const { text, values } = typeof statement === 'string' ? { text: statement, values: [] } : statement;
    return (await client.query<R>(text, values as unknown[])).rows;
  } finally {
    await client.end();
  }
}

/**
 * A shard may hold rows of slots it does not own (copied in ahead of a
 * switch, or released and not yet dropped). Reads carry the reader's map
 * version, one per statement, and each shard returns a slot's rows only if
 * it owned the slot at that version: every row is read exactly once, by
 * scans, aggregates, joins, index reads and key reads, at both isolation
 * levels and at the map versions before and after a switch.
 */
describe('reads of shards holding rows of slots they do not own', () => {
  const fixture = useDatabase(schema, {
    shards: 3,
    shardKeys: { posts: ['authorId'] },
    maxRetries: 100,
    retryBackoff: { initialMs: 1, maxMs: 20 },
    seed: async (db) => {
      await db.insert(users).values(Array.from({ length: 40 }, (_, i) => ({ id: i + 1, name: `u${i + 1}`, team: (i + 1) % TEAMS })));
      await db.insert(posts).values(Array.from({ length: 40 }, (_, i) => [1, 2, 3].map((id) => ({ authorId: i + 1, id, amount: (i + 1) * 10 + id }))).flat());
    },
  });

  /** Every kind of read, as one comparable value. */
  async function readAll(tx: Pick<Db, 'select'>, team: number, userId: number) {
    const scan = (await tx.select().from(users)).map((u) => u.id).sort((a, b) => a - b);
    const [totals] = await tx.select({ n: count(), total: sum(posts.amount) }).from(posts);
    const groups = (await tx.select({ author: posts.authorId, n: count(), total: sum(posts.amount) }).from(posts).groupBy(posts.authorId)).sort((a, b) => a.author - b.author);
    const joined = (await tx.select().from(users).innerJoin(posts, eq(users.id, posts.authorId))).map((r) => `${r.r_users.id}/${r.r_posts.id}`).sort();
    const byIndex = (await tx.select().from(users).where(eq(users.team, team))).map((u) => u.id).sort((a, b) => a - b);
    const byKey = (await tx.select().from(users).where(inArray(users.id, [userId, userId + 1]))).map((u) => u.name).sort();
    const ofAuthor = (await tx.select().from(posts).where(eq(posts.authorId, userId))).map((p) => p.id).sort();
    return { scan, totals, groups, joined, byIndex, byKey, ofAuthor };
  }

  /** The slots to move for user `userId`: its own (its row and posts) and its team's index entries'; each with the shard owning it. */
  async function slotsOf(db: Db, userId: number): Promise<{ slot: number; owner: number }[]> {
    const team = userId % TEAMS;
    const indexLatest = storages[1]!.latestTable;
    const found = await Promise.all(fixture.cluster.shardUrls.map((url) => onShard<{ slot: number }>(url, `select distinct slot from "${indexLatest}" where team = ${team}`)));
    const slots = [slotOf(usersMeta, { id: userId }), ...found.flat().map((r) => r.slot)];
    return [...new Set(slots)].map((slot) => ({ slot, owner: db.placement.map.shardOfSlot(slot) }));
  }

  /** A shard owning none of `slots`. */
  function otherShard(db: Db, slots: readonly { owner: number }[]): number {
    return db.placement.map.shards.map((s) => s.id).find((id) => !slots.some((s) => s.owner === id))!;
  }

  /** Receives the slots on `to` and copies their stored rows there from their owners, as a mover would. */
  async function copyIn(slots: readonly { slot: number; owner: number }[], to: number): Promise<number> {
    const urls = fixture.cluster.shardUrls;
    const received = await onShard<{ slot: number }>(urls[to]!, receiveSlots(slots.map((s) => s.slot)));
    expect(received.map((r) => r.slot).sort()).toEqual(slots.map((s) => s.slot).sort());
    let copied = 0;
    for (const { slot, owner } of slots) {
      for (const table of storages.flatMap((m) => [m.versionsTable, m.latestTable])) {
        const [{ rows }] = await onShard<{ rows: string | null }>(urls[owner]!, `select json_agg(t)::text as rows from "${table}" t where slot = ${slot}`) as [{ rows: string | null }];
        if (!rows) continue;
        copied += JSON.parse(rows).length;
        await onShard(urls[to]!, { text: `insert into "${table}" select * from json_populate_recordset(null::"${table}", $1::json)`, values: [rows] });
      }
    }
    return copied;
  }

  /** Switches the slots to `to`, one source shard at a time. */
  async function switchTo(db: Db, slots: readonly { slot: number; owner: number }[], to: number): Promise<void> {
    for (const from of new Set(slots.map((s) => s.owner))) await switchSlots(db.placement, { from, to, slots: slots.filter((s) => s.owner === from).map((s) => s.slot) });
  }

  for (const [n, isolation] of (['snapshot', 'serializable'] as const).entries()) {
    it(`${isolation}: rows copied to a shard that received their slot are read once`, async () => {
      const db = fixture.db;
      const userId = 7 + n;
      const team = userId % TEAMS;
      const expected = await db.transaction((tx) => readAll(tx, team, userId), { isolation });
      expect(expected.scan).toHaveLength(40);
      expect(expected.byKey).toHaveLength(2);
      const slots = await slotsOf(db, userId);
      const to = otherShard(db, slots);
      expect(await copyIn(slots, to)).toBeGreaterThan(4);
      expect(await db.transaction((tx) => readAll(tx, team, userId), { isolation })).toEqual(expected);
      // A switch that did not happen: the copies are deleted again.
      await onShard(fixture.cluster.shardUrls[to]!, deleteSlotRows(slots.map((s) => s.slot)));
      expect(await db.transaction((tx) => readAll(tx, team, userId), { isolation })).toEqual(expected);
    });

    it(`${isolation}: around a switch, readers at the old and the new map version read each row once; after the old owner drops its rows, an old-version reader reads again with the new map`, async () => {
      const db = fixture.db;
      const userId = 20 + n;
      const team = userId % TEAMS;
      const expected = await db.transaction((tx) => readAll(tx, team, userId), { isolation });
      const slots = await slotsOf(db, userId);
      const to = otherShard(db, slots);
      const stale = await percolator({ oracle: [fixture.cluster.oracleAddress], schema, shardKeys: { posts: ['authorId'] }, maxRetries: 0 });
      try {
        const oldVersion = stale.placement.map.version;
        let attempts = 0;
        const seen = await stale.transaction(
          async (tx) => {
            if (++attempts > 1) return readAll(tx, team, userId);
            expect(await readAll(tx, team, userId)).toEqual(expected);
            await copyIn(slots, to);
            await switchTo(db, slots, to);
            // The new map (db refreshed it) and the old one (this transaction's client still holds it), each after the switch.
            expect(db.placement.map.version).toBeGreaterThan(oldVersion);
            expect(stale.placement.map.version).toBe(oldVersion);
            expect(await db.transaction((other) => readAll(other, team, userId), { isolation })).toEqual(expected);
            expect(await readAll(tx, team, userId)).toEqual(expected);
            // Once the old owners delete the rows they released, the old map's reads are refused there: the transaction runs again.
            for (const from of new Set(slots.map((s) => s.owner))) await onShard(fixture.cluster.shardUrls[from]!, deleteSlotRows(slots.filter((s) => s.owner === from).map((s) => s.slot)));
            return readAll(tx, team, userId);
          },
          { isolation },
        );
        expect(attempts).toBe(2);
        expect(stale.placement.map.version).toBe(db.placement.map.version);
        expect(seen).toEqual(expected);
        expect(await db.transaction((tx) => readAll(tx, team, userId), { isolation })).toEqual(expected);
      } finally {
        await stale.close();
      }
    });
  }
});
