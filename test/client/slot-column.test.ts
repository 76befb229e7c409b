import { eq, inArray, sql } from 'drizzle-orm';
import { index, integer, pgTable, primaryKey, text, uniqueIndex, varchar } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { UniqueViolationError } from '../../src/index.js';
import { describeTable } from '../../src/schema/table-meta.js';
import { slotOf } from '../../src/shard/shard-of.js';
import { useDatabase } from '../support/database-fixture.js';
import { queryOnShards } from '../support/raw-shards.js';
import { checkSlotColumn, withIndexStorages } from '../support/slot-rows.js';

const members = pgTable(
  'members',
  { id: integer().primaryKey(), email: varchar({ length: 64 }).notNull().unique(), status: text().notNull(), nick: text(), score: integer().notNull() },
  (t) => [index('members_status_idx').on(t.status), uniqueIndex('members_nick_idx').on(t.nick)],
);
const entries = pgTable(
  'entries',
  { accountId: integer('account_id').notNull(), id: integer().notNull(), amount: integer().notNull() },
  (t) => [primaryKey({ columns: [t.accountId, t.id] })],
);
const schema = { members, entries };
const metas = withIndexStorages([describeTable(members), describeTable(entries, { shardKey: ['accountId'] })]);

/**
 * Every stored row (versions, locks, latest rows; of user tables and of
 * index entries) carries its key's slot, whichever write path stored it,
 * so that a shard can tell the rows of slots it owns from rows it holds
 * for a move. Rows stored before the column existed get it from migrate().
 */
describe('the slot column of stored rows', () => {
  const fixture = useDatabase(schema, { shards: 3, shardKeys: { entries: ['accountId'] }, maxRetries: 100, retryBackoff: { initialMs: 1, maxMs: 20 } });

  const expectSlotsRight = async (): Promise<Record<string, number>> => {
    const check = await checkSlotColumn(fixture.cluster.shardUrls, metas);
    expect(check.wrong).toEqual([]);
    return check.rows;
  };

  it('after inserts, updates, deletes, rollbacks, locking reads and index writes, every row has its key slot', async () => {
    const db = fixture.db;
    await db.insert(members).values(Array.from({ length: 40 }, (_, i) => ({ id: i, email: `m${i}@x`, status: i % 2 ? 'on' : 'off', nick: i % 3 ? `n${i}` : null, score: i })));
    await db.insert(entries).values(Array.from({ length: 60 }, (_, i) => ({ accountId: i % 7, id: i, amount: i })));
    await db.update(members).set({ status: 'moved', email: sql`${members.email} || '.new'` }).where(inArray(members.id, [1, 2, 3, 4]));
    await db.update(entries).set({ amount: sql`${entries.amount} + 1` }).where(eq(entries.accountId, 3));
    await db.delete(members).where(inArray(members.id, [5, 6, 7]));
    await db.delete(entries).where(eq(entries.accountId, 4));
    // A duplicate insert next to new rows: the conflict rolls back the rows prewritten on other shards, with a marker on the primary.
    for (let i = 0; i < 4; i++) {
      await expect(
        db.transaction(async (tx) => {
          await tx.insert(entries).values(Array.from({ length: 6 }, (_, k) => ({ accountId: 100 + i * 10 + k, id: k, amount: 1 })));
          await tx.insert(members).values({ id: 10 + i, email: `dup${i}@x`, status: 'x', score: 0 });
        }),
      ).rejects.toBeInstanceOf(UniqueViolationError);
    }
    // Concurrent read-modify-writes of the same rows: conflicts, retries, rollbacks.
    await Promise.all(
      Array.from({ length: 6 }, (_, w) =>
        db.transaction(async (tx) => {
          for (const id of [20 + (w % 2), 22, 23]) {
            const [row] = await tx.select().from(members).where(eq(members.id, id));
            await tx.update(members).set({ score: row!.score + 1, nick: `w${w}-${id}` }).where(eq(members.id, id));
          }
        }),
      ),
    );
    // A locking read: its lock rows (the lock function) carry the slot while the transaction holds them.
    await db.transaction(async (tx) => {
      await tx.select().from(entries).where(eq(entries.accountId, 2)).for('update');
      await tx.select().from(members).where(inArray(members.id, [30, 31, 32, 999])).for('update');
      const held = await expectSlotsRight();
      expect(held.entries__locks! + held.members__locks!).toBeGreaterThan(0);
      await tx.update(members).set({ score: 0 }).where(eq(members.id, 30));
    });
    const rows = await expectSlotsRight();
    expect(rows.members__versions).toBeGreaterThan(40);
    expect(rows.members__latest).toBeGreaterThan(0);
    expect(Object.entries(rows).filter(([name, n]) => name.includes('_idx') && name.endsWith('__versions') && n > 0).length).toBeGreaterThan(0);
    const markers = await queryOnShards<{ n: string }>(fixture.cluster.shardUrls, "select count(*) as n from members__versions where op = 'rollback'");
    expect(markers.reduce((n, [r]) => n + Number(r!.n), 0)).toBeGreaterThan(0);
  });

  it("a lock resolver's placeholder and rollback marker carry the slot of the primary's key", async () => {
    const db = fixture.db;
    const urls = fixture.cluster.shardUrls;
    // An expired secondary lock whose primary (member 900) was never written: the reader's resolver rolls it back.
    const membersMeta = metas[0]!;
    const secondary = 33;
    const shard = db.placement.map.shardOfSlot(slotOf(membersMeta, { id: secondary }));
    const client = new pg.Client(urls[shard]!);
    await client.connect();
    try {
      await client.query(
        `insert into members__locks (id, start_ts, op, primary_table, primary_key, ttl_ms, email, status, score, slot) values ($1, 2, 'put', 'members', array['900'], 0, 'ghost@x', 'x', 0, $2)`,
        [secondary, slotOf(membersMeta, { id: secondary })],
      );
    } finally {
      await client.end();
    }
    expect((await db.select().from(members).where(eq(members.id, secondary)))[0]!.email).toBe('m33@x');
    const marker = await queryOnShards<{ slot: number }>(urls, "select slot from members__versions where id = 900 and op = 'rollback' and start_ts = 2");
    expect(marker.flat()).toEqual([{ slot: slotOf(membersMeta, { id: 900 }) }]);
    await expectSlotsRight();
  });

  it('migrate() fills in the slot of rows stored before the column existed, and makes it not null', async () => {
    const urls = fixture.cluster.shardUrls;
    const tables = metas.flatMap((m) => [m.versionsTable, m.locksTable, m.latestTable]);
    // Back to the layout before the column: no column, no record of its migration.
    await queryOnShards(urls, `${tables.map((t) => `alter table "${t}" drop column slot;`).join('\n')}
      delete from percolator_migrations where name like '%/0009-slot-column'`);
    await fixture.db.migrate();
    const rows = await expectSlotsRight();
    expect(rows.members__versions).toBeGreaterThan(40);
    const nullable = await queryOnShards<{ n: string }>(
      urls,
      `select count(*) as n from pg_attribute where attname = 'slot' and not attnotnull and attrelid = any(array[${tables.map((t) => `'"${t}"'::regclass`).join(', ')}])`,
    );
    expect(nullable.map(([r]) => Number(r!.n))).toEqual([0, 0, 0]);
    // Writes after the migration keep filling it.
    await fixture.db.insert(entries).values({ accountId: 55, id: 1, amount: 3 });
    await expectSlotsRight();
  });
});
