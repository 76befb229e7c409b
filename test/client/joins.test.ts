import { and, asc, desc, eq, gt, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import { index, integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { InvalidInputError, SerializationError } from '../../src/index.js';
import { describeTable } from '../../src/schema/table-meta.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import type { Database } from '../../src/client/database.js';
import { MAX_JOIN_ROWS } from '../../src/client/lookup-read.js';
import { useLocalDatabase } from '../support/local-database.js';
import { useDatabase } from '../support/database-fixture.js';
import { pausePoint } from '../support/pause-point.js';

// users and posts share the shard key (posts by authorId): joined on it, each shard joins its own rows.
// comments live by their own id: joins to them, or from them, are lookup joins done by the client.
const users = pgTable('j_users', { id: integer().primaryKey(), name: text().notNull(), team: integer() }, (t) => [index('j_users_team_idx').on(t.team)]);
const posts = pgTable(
  'j_posts',
  { authorId: integer('author_id').notNull(), id: integer().notNull(), title: text().notNull(), likes: integer().notNull() },
  (t) => [primaryKey({ columns: [t.authorId, t.id] })],
);
const comments = pgTable('j_comments', { id: integer().primaryKey(), postAuthor: integer('post_author').notNull(), postId: integer('post_id').notNull(), by: integer(), body: text() });
const schema = { users, posts, comments };

const fixture = useDatabase(schema, { shardKeys: { posts: ['authorId'] }, maxRetries: 200, retryBackoff: { initialMs: 2, maxMs: 50 } });
const both = useLocalDatabase(fixture, schema);

interface Data {
  users: (typeof users.$inferInsert)[];
  posts: (typeof posts.$inferInsert)[];
  comments: (typeof comments.$inferInsert)[];
}

const data: fc.Arbitrary<Data> = fc.record({
  users: fc.uniqueArray(fc.record({ id: fc.integer({ min: 1, max: 12 }), name: fc.constantFrom('ann', 'bob', 'cy', 'Dee'), team: fc.option(fc.integer({ min: 1, max: 3 }), { nil: null }) }), { selector: (u) => u.id, maxLength: 12 }),
  posts: fc.uniqueArray(fc.record({ authorId: fc.integer({ min: 1, max: 14 }), id: fc.integer({ min: 1, max: 4 }), title: fc.constantFrom('a', 'b', 'é', 'Z'), likes: fc.integer({ min: 0, max: 20 }) }), {
    selector: (p) => `${p.authorId}/${p.id}`,
    maxLength: 30,
  }),
  comments: fc.uniqueArray(
    fc.record({ id: fc.integer({ min: 1, max: 50 }), postAuthor: fc.integer({ min: 1, max: 14 }), postId: fc.integer({ min: 1, max: 4 }), by: fc.option(fc.integer({ min: 1, max: 14 }), { nil: null }), body: fc.option(fc.constantFrom('x', 'y'), { nil: null }) }),
    { selector: (c) => c.id, maxLength: 30 },
  ),
});

type Reader = Pick<Database<typeof schema>, 'select'>;
/** The joins compared with Postgres; `ordered` ones are compared as they come, the others as sets. */
const joins: Record<string, { ordered?: boolean; run: (d: Reader, where: SQL | undefined) => Promise<unknown[]> }> = {
  colocatedInner: { run: (d, where) => d.select().from(users).innerJoin(posts, eq(users.id, posts.authorId)).where(where) },
  colocatedLeftOrdered: {
    ordered: true,
    run: (d, where) =>
      d.select({ user: users.id, name: users.name, post: posts.id, likes: posts.likes }).from(users).leftJoin(posts, eq(posts.authorId, users.id)).where(where).orderBy(desc(posts.likes), users.id, asc(posts.id)).limit(7).offset(1),
  },
  colocatedCross: { run: (d, where) => d.select().from(users).innerJoin(posts, and(eq(users.id, posts.authorId), lt(posts.likes, sql`${users.id} + 5`))).where(where) },
  lookupInner: { run: (d, where) => d.select().from(comments).innerJoin(posts, and(eq(comments.postAuthor, posts.authorId), eq(comments.postId, posts.id))).where(where) },
  lookupLeftChain: {
    run: (d, where) =>
      d.select({ comment: comments.id, title: posts.title, author: users.name }).from(comments)
        .leftJoin(posts, and(eq(posts.authorId, comments.postAuthor), eq(posts.id, comments.postId)))
        .leftJoin(users, eq(users.id, comments.by))
        .where(where),
  },
  lookupOrdered: {
    ordered: true,
    run: (d, where) => d.select({ c: comments.id, likes: posts.likes }).from(comments).innerJoin(posts, and(eq(comments.postAuthor, posts.authorId), eq(comments.postId, posts.id))).where(where).orderBy(posts.likes, comments.id).limit(5),
  },
  lookupIndex: { run: (d, where) => d.select({ c: comments.id, teamMate: users.id }).from(comments).innerJoin(users, eq(users.team, comments.postId)).where(where) },
};
/** Filters per join: what each may take (a lookup join refuses conditions across tables). */
const filters: Record<string, (name: string) => SQL | undefined> = {
  none: () => undefined,
  firstTable: (name) => (name.startsWith('colocated') ? gt(users.id, 4) : or(lt(comments.id, 20), isNull(comments.body))),
  joinedTable: (name) => (name.startsWith('colocated') ? gt(posts.likes, 8) : name === 'lookupLeftChain' ? eq(comments.body, 'x') : name === 'lookupIndex' ? eq(users.name, 'ann') : eq(posts.title, 'a')),
  across: (name) => (name.startsWith('colocated') ? or(gt(posts.likes, 15), eq(users.name, 'ann')) : undefined),
};

async function load(d: Data): Promise<void> {
  await Promise.all([both.db.delete(comments), both.db.delete(posts), both.db.delete(users), both.local.truncate()]);
  const writes: Promise<unknown>[] = [];
  for (const [table, rows] of [[users, d.users], [posts, d.posts], [comments, d.comments]] as const) {
    if (rows.length > 0) writes.push(both.db.insert(table).values(rows as never), both.local.db.insert(table).values(rows as never));
  }
  await Promise.all(writes);
}

function asSet(rows: unknown[]): string[] {
  return rows.map((r) => JSON.stringify(r)).sort();
}

describe('innerJoin and leftJoin', () => {
  it('give what Postgres gives, at a snapshot, while a writer changes the rows', async () => {
    await fc.assert(
      fc.asyncProperty(data, async (d) => {
        await load(d);
        const ts = await both.db.currentTimestamp();
        let writing = true;
        const writer = (async () => {
          while (writing) {
            await both.db.update(posts).set({ likes: sql`${posts.likes} + 3`, title: 'w' }).where(gt(posts.id, 0));
            await both.db.update(comments).set({ postId: sql`${comments.postId} + 1` }).where(gt(comments.id, 0));
            await both.db.insert(users).values({ id: 100 + Math.floor(Math.random() * 1000), name: 'new', team: 1 }).onConflictDoNothing();
          }
        })();
        try {
          for (const [name, join] of Object.entries(joins)) {
            for (const [filterName, filter] of Object.entries(filters)) {
              const where = filter(name);
              if (filterName !== 'none' && where === undefined) continue;
              const expected = await join.run(both.local.db as unknown as Reader, where);
              const actual = await join.run(both.db.asOf(ts), where);
              if (join.ordered) expect(actual, `${name} where ${filterName}`).toEqual(expected);
              else expect(asSet(actual), `${name} where ${filterName}`).toEqual(asSet(expected));
            }
          }
        } finally {
          writing = false;
          await writer;
        }
      }),
      { numRuns: 5 },
    );
  });

  it("see the transaction's own buffered writes, on both paths", async () => {
    await load({ users: [{ id: 1, name: 'ann', team: 1 }, { id: 2, name: 'bob', team: 2 }], posts: [{ authorId: 1, id: 1, title: 't', likes: 1 }], comments: [{ id: 1, postAuthor: 1, postId: 1, by: 2 }] });
    await both.db.transaction(async (tx) => {
      await tx.insert(posts).values({ authorId: 2, id: 1, title: 'mine', likes: 5 });
      await tx.delete(posts).where(and(eq(posts.authorId, 1), eq(posts.id, 1)));
      await tx.insert(comments).values({ id: 2, postAuthor: 2, postId: 1, by: 1 });
      await tx.update(users).set({ name: 'bobby' }).where(eq(users.id, 2));
      await tx.insert(users).values({ id: 3, name: 'cy', team: null });
      expect(await tx.select({ name: users.name, title: posts.title }).from(users).leftJoin(posts, eq(users.id, posts.authorId)).orderBy(users.id)).toEqual([
        { name: 'ann', title: null },
        { name: 'bobby', title: 'mine' },
        { name: 'cy', title: null },
      ]);
      expect(await tx.select({ c: comments.id, title: posts.title }).from(comments).leftJoin(posts, and(eq(posts.authorId, comments.postAuthor), eq(posts.id, comments.postId))).orderBy(comments.id)).toEqual([
        { c: 1, title: null },
        { c: 2, title: 'mine' },
      ]);
    });
  });

  it('refuse what they cannot do across shards, before reading', async () => {
    await expect(both.db.select().from(comments).innerJoin(posts, eq(comments.postAuthor, posts.authorId)).where(gt(posts.likes, comments.id))).rejects.toThrow(/where condition naming columns of several tables/);
    await expect(both.db.select().from(posts).innerJoin(comments, eq(comments.body, posts.title))).rejects.toThrow(/neither j_comments's shard key nor the leading columns of an index/);
    await expect(both.db.select().from(comments).leftJoin(users, eq(users.id, comments.by)).where(isNull(users.name))).rejects.toThrow(/where condition on the left-joined table j_users/);
    await expect(both.db.select().from(users).innerJoin(users, eq(users.id, users.team))).rejects.toThrow(/with itself/);
    expect(() => both.db.select().from(users).rightJoin(posts, eq(users.id, posts.authorId))).toThrow(InvalidInputError);
    await expect(both.db.select().from(users).innerJoin(posts, eq(users.id, posts.authorId)).orderBy(sql`${posts.likes} + 1`)).rejects.toThrow(InvalidInputError);
  });

  it('refuse a lookup join that would hold more than MAX_JOIN_ROWS rows on the client; the shards join any number', async () => {
    await load({ users: [{ id: 1, name: 'ann', team: 1 }], posts: [], comments: [] });
    const many = Array.from({ length: MAX_JOIN_ROWS + 1 }, (_, i) => ({ id: i + 1, postAuthor: 1, postId: 1 }));
    await both.db.insert(comments).values(many);
    await expect(both.db.select().from(comments).leftJoin(posts, and(eq(posts.authorId, comments.postAuthor), eq(posts.id, comments.postId)))).rejects.toThrow(/more than 10000 rows after reading j_comments/);
    // Ordered by the first table and limited, a left join reads only the rows it needs.
    expect(await both.db.select({ id: comments.id }).from(comments).leftJoin(posts, and(eq(posts.authorId, comments.postAuthor), eq(posts.id, comments.postId))).orderBy(desc(comments.id)).limit(2)).toEqual([
      { id: MAX_JOIN_ROWS + 1 },
      { id: MAX_JOIN_ROWS },
    ]);
    await both.db.insert(posts).values(Array.from({ length: MAX_JOIN_ROWS + 1 }, (_, i) => ({ authorId: 1, id: i + 1, title: 't', likes: 0 })));
    expect(await both.db.$count(posts)).toBe(MAX_JOIN_ROWS + 1);
    expect(await both.db.select({ id: posts.id }).from(users).innerJoin(posts, eq(users.id, posts.authorId))).toHaveLength(MAX_JOIN_ROWS + 1);
  });
});

describe('a join meets a pending write', () => {
  // Another client's transaction is held between taking its commit timestamp and committing its primary:
  // a reader at a later snapshot must not read past its lock. It pushes the owner (docs/DESIGN.md), which
  // then commits above the reader's snapshot: the join shows the older state, and the commit lands later.
  for (const path of ['colocated', 'lookup'] as const) {
    it(`${path}: meets the lock and pushes its owner past the snapshot`, async () => {
      await load({ users: [{ id: 1, name: 'ann', team: 1 }], posts: [], comments: [{ id: 1, postAuthor: 1, postId: 1 }] });
      const pause = pausePoint();
      const timestampSource = await fixture.cluster.createTimestampSource();
      const engine = createTransactionEngine({ shards: fixture.cluster.shardUrls, timestampSource, registry: new Registry(), hooks: { beforeCommitPrimary: pause.hook } });
      const postsMeta = describeTable(posts, { shardKey: ['authorId'] });
      engine.register([postsMeta]);
      try {
        const tx = await engine.begin();
        await tx.insert(postsMeta, [{ authorId: 1, id: 1, title: 'held', likes: 0 }]);
        const committed = tx.commit();
        await pause.reached;
        const before = await both.db.currentTimestamp();
        const read =
          path === 'colocated'
            ? both.db.select({ title: posts.title }).from(users).innerJoin(posts, eq(users.id, posts.authorId))
            : both.db.select({ title: posts.title }).from(comments).innerJoin(posts, and(eq(comments.postAuthor, posts.authorId), eq(comments.postId, posts.id)));
        expect(await read).toEqual([]);
        pause.release();
        // Without the push, its commit timestamp (taken before `before`) would have been below the read's snapshot.
        expect((await committed).commitTs).toBeGreaterThan(before);
        expect(await read).toEqual([{ title: 'held' }]);
      } finally {
        pause.release();
        await engine.close();
        await timestampSource.close();
      }
    });
  }
});

describe('serializable joins', () => {
  // Each transaction counts a user's posts through a join, then posts for the other user: write skew through the join.
  const skew = async (path: 'colocated' | 'lookup', isolation: 'snapshot' | 'serializable'): Promise<PromiseSettledResult<void>[]> => {
    await load({ users: [{ id: 1, name: 'ann', team: 1 }, { id: 2, name: 'bob', team: 2 }], posts: [], comments: [{ id: 1, postAuthor: 1, postId: 1 }, { id: 2, postAuthor: 2, postId: 1 }] });
    let arrived = 0;
    let release!: () => void;
    const bothRead = new Promise<void>((resolve) => (release = resolve));
    const run = (mine: number, other: number) =>
      both.db.transaction(
        async (tx) => {
          const seen =
            path === 'colocated'
              ? await tx.select().from(users).innerJoin(posts, eq(users.id, posts.authorId)).where(eq(users.id, mine))
              : await tx.select().from(comments).innerJoin(posts, and(eq(comments.postAuthor, posts.authorId), eq(comments.postId, posts.id))).where(eq(comments.id, mine));
          if (++arrived === 2) release();
          await bothRead;
          if (seen.length === 0) await tx.insert(posts).values({ authorId: other, id: 1, title: `by ${mine}`, likes: 0 });
        },
        { isolation, maxRetries: 0 },
      );
    return Promise.allSettled([run(1, 2), run(2, 1)]);
  };

  for (const path of ['colocated', 'lookup'] as const) {
    it(`${path}: a write skew through a join commits under snapshot isolation and is refused under serializable`, async () => {
      expect((await skew(path, 'snapshot')).map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
      // Not both: one (or, when each meets the other's pending lock, both) fails validation.
      const serializable = await skew(path, 'serializable');
      const failed = serializable.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(failed.length).toBeGreaterThan(0);
      for (const failure of failed) expect(failure.reason).toBeInstanceOf(SerializationError);
    });
  }
});
