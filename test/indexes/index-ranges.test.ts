import { and, asc, between, desc, eq, gt, gte, lt, lte } from 'drizzle-orm';
import { index, integer, pgTable, text, varchar } from 'drizzle-orm/pg-core';
import { beforeEach, describe, expect, it } from 'vitest';
import { SerializationError } from '../../src/index.js';
import { queryOnShards } from '../support/raw-shards.js';
import { useDatabase } from '../support/database-fixture.js';

/**
 * Ranges and ordered, limited reads through an index: the same rows as a
 * scan (own writes included), read through the entries' btree on every
 * shard; serializable transactions see an insert into the range as a
 * conflict (no phantom), snapshot ones do not (write skew, as for a scan).
 */
const ranked = pgTable(
  'ranked',
  {
    id: integer().primaryKey(),
    email: varchar({ length: 64 }).notNull().unique(),
    score: integer().notNull(),
    grp: integer().notNull(),
    note: text(),
  },
  (t) => [index('ranked_score_idx').on(t.score), index('ranked_grp_score_idx').on(t.grp, t.score)],
);
const schema = { ranked };
const fixture = useDatabase(schema, { maxRetries: 10, shardSettings: { shared_preload_libraries: 'pg_stat_statements' } });
const ROWS = Array.from({ length: 60 }, (_, id) => ({ id, email: `u${String(id).padStart(3, '0')}@x`, score: (id * 37) % 100, grp: id % 3, note: id % 2 ? 'odd' : null }));

beforeEach(async () => {
  await fixture.db.delete(ranked);
  await fixture.db.insert(ranked).values(ROWS);
});

const ids = (rows: readonly { id: number }[]) => rows.map((r) => r.id).sort((a, b) => a - b);
const expected = (match: (r: (typeof ROWS)[number]) => boolean) => ids(ROWS.filter(match));

describe('ranges through an index', () => {
  it('gt, gte, lt, lte, between and eq on a prefix with a range on the next column: the rows a scan finds', async () => {
    const { db } = fixture;
    expect(ids(await db.select().from(ranked).where(gt(ranked.score, 90)))).toEqual(expected((r) => r.score > 90));
    expect(ids(await db.select().from(ranked).where(and(gte(ranked.score, 10), lt(ranked.score, 20))))).toEqual(expected((r) => r.score >= 10 && r.score < 20));
    expect(ids(await db.select().from(ranked).where(lte(ranked.score, 3)))).toEqual(expected((r) => r.score <= 3));
    expect(ids(await db.select().from(ranked).where(between(ranked.score, 40, 45)))).toEqual(expected((r) => r.score >= 40 && r.score <= 45));
    expect(ids(await db.select().from(ranked).where(and(eq(ranked.grp, 1), gt(ranked.score, 50))))).toEqual(expected((r) => r.grp === 1 && r.score > 50));
    expect(ids(await db.select().from(ranked).where(gt(ranked.email, 'u050@x')))).toEqual(expected((r) => r.email > 'u050@x'));
    // A condition the entries cannot answer is checked on the rows.
    expect(ids(await db.select().from(ranked).where(and(gt(ranked.score, 50), eq(ranked.note, 'odd'))))).toEqual(expected((r) => r.score > 50 && r.note === 'odd'));
  });

  it('reads the range from the index storage on every shard, not from the rows', async () => {
    const urls = fixture.cluster.shardUrls;
    await queryOnShards(urls, 'create extension if not exists pg_stat_statements');
    await queryOnShards(urls, 'select pg_stat_statements_reset()');
    const rows = await fixture.db.select().from(ranked).where(between(ranked.score, 40, 45));
    expect(ids(rows)).toEqual(expected((r) => r.score >= 40 && r.score <= 45));
    // Every statement that evaluated the range, on every shard, read the entries' storage.
    const ran = (await queryOnShards<{ query: string }>(urls, `select query from pg_stat_statements where query like '%"ranked"."score" between%'`)).map((shard) => shard.map((r) => r.query));
    expect(ran.map((shard) => shard.length)).toEqual([1, 1, 1]);
    for (const query of ran.flat()) {
      expect(query).toContain('"ranked_score_idx__idx__latest"');
      expect(query).not.toContain('"ranked__latest"');
    }
    // An ordered read with a limit: each shard's ordered, limited read is of the entries.
    await queryOnShards(urls, 'select pg_stat_statements_reset()');
    expect((await fixture.db.select().from(ranked).orderBy(desc(ranked.score)).limit(4)).map((r) => r.score)).toEqual(ROWS.map((r) => r.score).sort((a, b) => b - a).slice(0, 4));
    const ordered = (await queryOnShards<{ query: string }>(urls, `select query from pg_stat_statements where query like '%order by "ranked"."score" desc limit%'`)).flat();
    expect(ordered).toHaveLength(3);
    for (const { query } of ordered) expect(query).toContain('"ranked_score_idx__idx__latest"');
  });

  it('an ordered read with a limit takes the first entries in order, own writes included', async () => {
    const { db } = fixture;
    const top = await db.select().from(ranked).orderBy(desc(ranked.score), asc(ranked.id)).limit(5);
    const sorted = [...ROWS].sort((a, b) => b.score - a.score || a.id - b.id);
    expect(top.map((r) => r.id)).toEqual(sorted.slice(0, 5).map((r) => r.id));
    const page = await db.select().from(ranked).orderBy(asc(ranked.score)).limit(3).offset(2);
    expect(page.map((r) => r.score)).toEqual([...ROWS].map((r) => r.score).sort((a, b) => a - b).slice(2, 5));
    await db.transaction(async (tx) => {
      await tx.insert(ranked).values({ id: 100, email: 'top@x', score: 1000, grp: 0 });
      await tx.delete(ranked).where(eq(ranked.id, sorted[0]!.id));
      const mine = await tx.select().from(ranked).orderBy(desc(ranked.score)).limit(2);
      expect(mine.map((r) => r.id)).toEqual([100, sorted[1]!.id]);
      const inGroup = await tx.select().from(ranked).where(eq(ranked.grp, 0)).orderBy(desc(ranked.score)).limit(1);
      expect(inGroup.map((r) => r.id)).toEqual([100]);
      const ranged = await tx.select().from(ranked).where(gt(ranked.score, 999));
      expect(ranged.map((r) => r.id)).toEqual([100]);
    });
  });

  it('an ordered, limited read keeps its snapshot: rows changed or deleted since are read as they were, in the index and by key', async () => {
    const { db } = fixture;
    const byScore = [...ROWS].sort((a, b) => b.score - a.score || a.id - b.id);
    const byId = [...ROWS].sort((a, b) => b.id - a.id);
    await db.transaction(async (tx) => {
      await tx.select().from(ranked).where(eq(ranked.id, 0)); // the snapshot is taken
      // Committed after the snapshot: the top scorer drops to the bottom, the second is deleted, the highest ids go.
      await db.update(ranked).set({ score: -1 }).where(eq(ranked.id, byScore[0]!.id));
      await db.delete(ranked).where(eq(ranked.id, byScore[1]!.id));
      await db.delete(ranked).where(gte(ranked.id, byId[1]!.id));
      const top = await tx.select().from(ranked).orderBy(desc(ranked.score)).limit(3);
      expect(top.map((r) => [r.id, r.score])).toEqual(byScore.slice(0, 3).map((r) => [r.id, r.score]));
      const last = await tx.select().from(ranked).orderBy(desc(ranked.id)).limit(2);
      expect(last.map((r) => r.id)).toEqual(byId.slice(0, 2).map((r) => r.id));
      const all = await tx.select().from(ranked).orderBy(asc(ranked.score)).limit(1000);
      expect(all).toHaveLength(ROWS.length);
    }, { isolation: 'snapshot' });
  });

  it('for update through an index: the rows matching at the for-update timestamp are locked, one that came to match after the transaction began included', async () => {
    const { db } = fixture;
    const urls = fixture.cluster.shardUrls;
    await queryOnShards(urls, 'create extension if not exists pg_stat_statements');
    await db.transaction(async (tx) => {
      await tx.select().from(ranked).where(eq(ranked.id, 0)); // the snapshot is taken
      await db.update(ranked).set({ score: 500 }).where(eq(ranked.id, 5)); // came to match since
      await db.insert(ranked).values({ id: 400, email: 'late@x', score: 501, grp: 1 });
      await queryOnShards(urls, 'select pg_stat_statements_reset()');
      const locked = await tx.select().from(ranked).where(gte(ranked.score, 500)).for('update');
      expect(ids(locked)).toEqual([5, 400]);
      const ran = (await queryOnShards<{ query: string }>(urls, `select query from pg_stat_statements where query like '%"ranked"."score" >=%'`)).flat();
      expect(ran.some((r) => r.query.includes('"ranked_score_idx__idx__latest"'))).toBe(true);
      expect(ran.filter((r) => r.query.includes('"ranked__latest"'))).toEqual([]);
      // Locked: a writer of one of them fails (no retries) while this transaction holds it.
      const writer = await db
        .transaction(async (other) => void (await other.update(ranked).set({ note: 'other' }).where(eq(ranked.id, 400))), { maxRetries: 0 })
        .then(() => 'committed', (error: unknown) => (error as Error).name);
      expect(writer).not.toBe('committed');
      await tx.update(ranked).set({ note: 'locked' }).where(gte(ranked.score, 500));
    });
    expect((await db.select().from(ranked).where(gte(ranked.score, 500))).map((r) => r.note)).toEqual(['locked', 'locked']);
  });

  it('serializable: an insert into the range read through the index is a conflict (no phantom); one outside it is not', async () => {
    const { db } = fixture;
    const run = async (inserted: { id: number; email: string; score: number; grp: number }) => {
      let attempts = 0;
      await db.transaction(
        async (tx) => {
          attempts++;
          const high = await tx.select().from(ranked).where(gte(ranked.score, 95));
          if (attempts === 1) await db.insert(ranked).values(inserted); // commits first
          await tx.update(ranked).set({ note: `saw ${high.length}` }).where(eq(ranked.id, 0));
        },
        { isolation: 'serializable' },
      );
      return attempts;
    };
    expect(await run({ id: 200, email: 'in@x', score: 97, grp: 2 })).toBe(2);
    expect(await run({ id: 201, email: 'out@x', score: 5, grp: 2 })).toBe(1);
    const [zero] = await db.select().from(ranked).where(eq(ranked.id, 0));
    expect(zero?.note).toBe(`saw ${ROWS.filter((r) => r.score >= 95).length + 1}`);
  });

  it('serializable without retries: the phantom fails with SerializationError; snapshot allows it (write skew)', async () => {
    const { db } = fixture;
    const attempt = (isolation: 'serializable' | 'snapshot', id: number) =>
      db
        .transaction(
          async (tx) => {
            await tx.select().from(ranked).where(and(eq(ranked.grp, 2), between(ranked.score, 60, 70)));
            await db.insert(ranked).values({ id, email: `p${id}@x`, score: 65, grp: 2 });
            await tx.update(ranked).set({ note: 'x' }).where(eq(ranked.id, 1));
          },
          { isolation, maxRetries: 0 },
        )
        .then(() => 'committed', (error: unknown) => error);
    expect(await attempt('serializable', 300)).toBeInstanceOf(SerializationError);
    expect(await attempt('snapshot', 301)).toBe('committed');
  });
});

