import { and, eq, gt, relations, sql } from 'drizzle-orm';
import { index, integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidInputError, SerializationError } from '../../src/index.js';
import type { Database } from '../../src/client/database.js';
import { useLocalDatabase } from '../support/local-database.js';
import { useDatabase } from '../support/database-fixture.js';

const users = pgTable('r_users', { id: integer().primaryKey(), name: text().notNull(), bestFriend: integer('best_friend') });
const posts = pgTable(
  'r_posts',
  { authorId: integer('author_id').notNull(), id: integer().notNull(), title: text().notNull(), likes: integer().notNull() },
  (t) => [primaryKey({ columns: [t.authorId, t.id] })],
);
const comments = pgTable(
  'r_comments',
  { id: integer().primaryKey(), postAuthor: integer('post_author').notNull(), postId: integer('post_id').notNull(), by: integer(), body: text() },
  (t) => [index('r_comments_post_idx').on(t.postAuthor, t.postId)],
);
const notes = pgTable('r_notes', { id: integer().primaryKey(), about: integer().notNull(), text: text() });
const usersRelations = relations(users, ({ many, one }) => ({ posts: many(posts), friend: one(users, { fields: [users.bestFriend], references: [users.id] }), notes: many(notes) }));
const postsRelations = relations(posts, ({ one, many }) => ({ author: one(users, { fields: [posts.authorId], references: [users.id] }), comments: many(comments) }));
const commentsRelations = relations(comments, ({ one }) => ({
  post: one(posts, { fields: [comments.postAuthor, comments.postId], references: [posts.authorId, posts.id] }),
  commenter: one(users, { fields: [comments.by], references: [users.id] }),
}));
// notes.about is neither notes' shard key nor indexed: reading a user's notes would scan every shard.
const notesRelations = relations(notes, ({ one }) => ({ user: one(users, { fields: [notes.about], references: [users.id] }) }));
const schema = { users, posts, comments, notes, usersRelations, postsRelations, commentsRelations, notesRelations };

const fixture = useDatabase(schema, { shardKeys: { posts: ['authorId'] }, maxRetries: 200, retryBackoff: { initialMs: 2, maxMs: 50 } });
const both = useLocalDatabase(fixture, schema);

interface Data {
  users: (typeof users.$inferInsert)[];
  posts: (typeof posts.$inferInsert)[];
  comments: (typeof comments.$inferInsert)[];
}

const data: fc.Arbitrary<Data> = fc.record({
  users: fc.uniqueArray(fc.record({ id: fc.integer({ min: 1, max: 10 }), name: fc.constantFrom('ann', 'bob', 'cy'), bestFriend: fc.option(fc.integer({ min: 1, max: 12 }), { nil: null }) }), { selector: (u) => u.id, minLength: 3, maxLength: 10 }),
  posts: fc.uniqueArray(fc.record({ authorId: fc.integer({ min: 1, max: 9 }), id: fc.integer({ min: 1, max: 6 }), title: fc.constantFrom('a', 'b', 'c'), likes: fc.integer({ min: 0, max: 20 }) }), {
    selector: (p) => `${p.authorId}/${p.id}`,
    minLength: 10,
    maxLength: 30,
  }),
  comments: fc.uniqueArray(
    fc.record({ id: fc.integer({ min: 1, max: 40 }), postAuthor: fc.integer({ min: 1, max: 12 }), postId: fc.integer({ min: 1, max: 4 }), by: fc.option(fc.integer({ min: 1, max: 12 }), { nil: null }), body: fc.option(fc.constantFrom('x', 'y'), { nil: null }) }),
    { selector: (c) => c.id, maxLength: 25 },
  ),
});

type Queries = Database<typeof schema>['query'];
/** The same relational queries on the client and on `local` (drizzle itself): every level ordered, so results compare as they come. */
const queries: Record<string, (q: Queries) => Promise<unknown>> = {
  usersWithPosts: (q) => q.users.findMany({ orderBy: (u, { asc }) => asc(u.id), with: { posts: { orderBy: (p, { desc }) => [desc(p.likes), p.id] } } }),
  topPostsAndFriend: (q) =>
    q.users.findMany({
      columns: { id: true, name: true },
      where: (u, { gt }) => gt(u.id, 2),
      orderBy: [users.id],
      limit: 6,
      offset: 1,
      with: { posts: { columns: { likes: false }, where: gt(posts.likes, 5), orderBy: [posts.likes, posts.id], limit: 2 }, friend: { columns: { name: true } } },
    }),
  postsDeep: (q) =>
    q.posts.findMany({
      orderBy: [posts.authorId, posts.id],
      with: { author: true, comments: { orderBy: (c, { asc }) => asc(c.id), with: { commenter: { columns: { id: true } } } } },
    }),
  commentsUp: (q) => q.comments.findMany({ where: (c, { isNotNull }) => isNotNull(c.body), orderBy: [comments.id], with: { post: { with: { author: true } } } }),
  firstUser: (q) => q.users.findFirst({ where: (u, { eq }) => eq(u.name, 'bob'), orderBy: [users.id], with: { posts: { orderBy: [posts.id] } } }),
};

async function load(d: Data): Promise<void> {
  await Promise.all([both.db.delete(comments), both.db.delete(posts), both.db.delete(users), both.local.truncate()]);
  const writes: Promise<unknown>[] = [];
  for (const [table, rows] of [[users, d.users], [posts, d.posts], [comments, d.comments]] as const) {
    if (rows.length > 0) writes.push(both.db.insert(table).values(rows as never), both.local.db.insert(table).values(rows as never));
  }
  await Promise.all(writes);
}

describe('db.query findMany/findFirst', () => {
  it('give what drizzle gives on one Postgres, at a snapshot, while a writer changes the rows', async () => {
    await fc.assert(
      fc.asyncProperty(data, async (d) => {
        await load(d);
        const ts = await both.db.currentTimestamp();
        let writing = true;
        const writer = (async () => {
          while (writing) {
            await both.db.update(posts).set({ likes: sql`${posts.likes} + 1` }).where(gt(posts.id, 0));
            await both.db.update(comments).set({ body: 'w' }).where(gt(comments.id, 0));
          }
        })();
        try {
          for (const [name, run] of Object.entries(queries)) {
            expect(await run(both.db.asOf(ts).query as unknown as Queries), name).toEqual(await run(both.local.db.query as unknown as Queries));
          }
        } finally {
          writing = false;
          await writer;
        }
      }),
      { numRuns: 5 },
    );
  });

  it("inside a transaction, see its own writes", async () => {
    await load({ users: [{ id: 1, name: 'ann' }], posts: [{ authorId: 1, id: 1, title: 'old', likes: 1 }], comments: [] });
    await both.db.transaction(async (tx) => {
      await tx.insert(posts).values({ authorId: 1, id: 2, title: 'new', likes: 2 });
      await tx.delete(posts).where(and(eq(posts.authorId, 1), eq(posts.id, 1)));
      const user = await tx.query.users.findFirst({ where: (u, { eq }) => eq(u.id, 1), with: { posts: { columns: { title: true } } } });
      expect(user).toEqual({ id: 1, name: 'ann', bestFriend: null, posts: [{ title: 'new' }] });
    });
  });

  it('refuse what they cannot do, before reading', async () => {
    await expect(both.db.query.users.findMany({ with: { notes: true } })).rejects.toThrow(/neither its shard key nor the leading columns of an index/);
    await expect(both.db.query.users.findMany({ extras: { n: sql<number>`1`.as('n') } })).rejects.toThrow(/extras .* not supported/);
    await expect(both.db.query.users.findMany({ with: { friend: { where: eq(users.id, 1) } as never } })).rejects.toThrow(InvalidInputError);
    await expect(both.db.query.users.findMany({ with: { nope: true } as never })).rejects.toThrow(/with.nope is not a relation of users/);
    await expect(both.db.query.users.findMany({ where: eq(posts.id, 1) })).rejects.toThrow(/another table/);
  });

  for (const isolation of ['snapshot', 'serializable'] as const) {
    it(`${isolation}: a post added to what findFirst read with its posts ${isolation === 'snapshot' ? 'commits' : 'is a SerializationError'}`, async () => {
      await load({ users: [{ id: 1, name: 'ann' }, { id: 2, name: 'bob' }], posts: [], comments: [] });
      const attempt = both.db.transaction(
        async (tx) => {
          const user = await tx.query.users.findFirst({ where: (u, { eq }) => eq(u.id, 1), with: { posts: true } });
          await both.db.insert(posts).values({ authorId: 1, id: 1, title: 'phantom', likes: 0 });
          await tx.update(users).set({ name: `${user!.posts.length}` }).where(eq(users.id, 2));
        },
        { isolation, maxRetries: 0 },
      );
      if (isolation === 'snapshot') await attempt;
      else await expect(attempt).rejects.toBeInstanceOf(SerializationError);
    });
  }
});
