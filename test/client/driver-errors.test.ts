import { eq, sql } from 'drizzle-orm';
import { boolean, integer, pgEnum, pgTable, text } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError, PercolatorError, percolator, SchemaError, type Database } from '../../src/index.js';
import type { PgTable } from 'drizzle-orm/pg-core';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

// Nothing that reaches the application from migrate() or a query is a bare
// node-postgres error: each is a catalogue error saying what to do, with
// Postgres's SQLSTATE (`sqlState`) and the driver's error as `cause`.

let cluster: TestCluster;
const open: Database<Record<string, PgTable>>[] = [];

async function connect<S extends Record<string, PgTable>>(schema: S): Promise<Database<S>> {
  const db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema, maxRetries: 0 });
  open.push(db as unknown as Database<Record<string, PgTable>>);
  return db;
}

/** The error `promise` rejects with, checked to be a catalogue error of `type` carrying a driver error. */
async function caught<T extends PercolatorError>(promise: Promise<unknown>, type: abstract new (...args: never[]) => T): Promise<T> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a rejection').toBeDefined();
  expect(error, String(error)).toBeInstanceOf(type);
  return error as T;
}

beforeAll(async () => {
  cluster = await startTestCluster({ shards: 2 });
});

afterAll(async () => {
  await Promise.all(open.map((db) => db.close()));
  await cluster?.destroy();
});

describe('pgEnum columns', () => {
  const role = pgEnum('role', ['admin', 'member']);
  const users = pgTable('users', { id: integer().primaryKey(), role: role().notNull(), former: role().array() });
  /** The labels of the `role` type, per shard. */
  const roleLabels = (): Promise<string[]> =>
    Promise.all(
      cluster.shardUrls.map(async (url) => {
        const client = new pg.Client(url);
        await client.connect();
        try {
          return (await client.query<{ labels: string }>(`select enum_range(null::role)::text as labels`)).rows[0]!.labels;
        } finally {
          await client.end();
        }
      }),
    );

  it('migrate() creates the enum type on every shard, idempotently, and the column works', async () => {
    const db = await connect({ users });
    await db.migrate();
    await db.migrate();
    await (await connect({ users })).migrate();
    await db.insert(users).values([{ id: 1, role: 'admin' }, { id: 2, role: 'member', former: ['admin'] }]);
    expect(await db.select().from(users).where(eq(users.role, 'member'))).toEqual([{ id: 2, role: 'member', former: ['admin'] }]);
    expect((await db.select({ id: users.id }).from(users).orderBy(users.role, users.id)).map((r) => r.id)).toEqual([1, 2]);
    expect(await roleLabels()).toEqual(cluster.shardUrls.map(() => '{admin,member}'));
  });

  it('an enum that gains labels grows on every shard, and the new labels work', async () => {
    const grown = pgEnum('role', ['guest', 'admin', 'member', 'owner']);
    const members = pgTable('members', { id: integer().primaryKey(), role: grown().notNull() });
    const db = await connect({ members });
    await db.migrate();
    await db.migrate(); // idempotent
    await db.insert(members).values([{ id: 1, role: 'owner' }, { id: 2, role: 'guest' }]);
    expect((await db.select().from(members).orderBy(members.role)).map((r) => r.role)).toEqual(['guest', 'owner']);
    expect(await roleLabels()).toEqual(cluster.shardUrls.map(() => '{guest,admin,member,owner}'));
  });

  it('an enum that would lose or reorder labels is a SchemaError, and the type stays as it was', async () => {
    for (const labels of [['guest', 'admin', 'owner'], ['guest', 'member', 'admin', 'owner']] as [string, ...string[]][]) {
      const changed = pgEnum('role', labels);
      const others = pgTable('others', { id: integer().primaryKey(), role: changed() });
      const error = await caught((await connect({ others })).migrate(), SchemaError);
      expect(error.message).toMatch(/enum type "role" has the labels \(guest, admin, member, owner\).*not removed, renamed or reordered/);
    }
  });
});

describe('queries after a refused migration', () => {
  const notes = pgTable('notes', { id: integer().primaryKey(), body: text() });
  const notesPinned = pgTable('notes', { id: integer().primaryKey(), body: text(), pinned: boolean() });
  const notesRetyped = pgTable('notes', { id: integer().primaryKey(), body: integer() });

  beforeAll(async () => {
    const db = await connect({ notes });
    await db.migrate();
    await db.insert(notes).values([{ id: 1, body: 'a' }, { id: 2, body: 'b' }]);
  });

  it('a column added since the storage was created, before migrate() adds it', async () => {
    const db = await connect({ notes: notesPinned });
    for (const query of [
      db.select().from(notesPinned),
      db.select().from(notesPinned).where(eq(notesPinned.id, 1)),
      db.insert(notesPinned).values({ id: 3, body: 'c', pinned: true }),
      db.update(notesPinned).set({ pinned: true }).where(eq(notesPinned.id, 1)),
    ]) {
      const error = await caught(query, SchemaError);
      expect(error.message).toMatch(/differs from its declaration|run db\.migrate\(\)/);
      expect(error.sqlState).toMatch(/^42/);
      expect(error.cause).toBeInstanceOf(Error);
    }
  });

  it('a column whose type changed since the storage was created', async () => {
    const db = await connect({ notes: notesRetyped });
    await caught(db.migrate(), SchemaError);
    for (const query of [db.select().from(notesRetyped), db.select().from(notesRetyped).where(eq(notesRetyped.id, 2))]) {
      const error = await caught(query, SchemaError);
      expect(error.message).toMatch(/differs from its declaration/);
      expect(error.sqlState).toMatch(/^42/);
    }
  });

  it('a table whose storage was never created', async () => {
    const never = pgTable('never_migrated', { id: integer().primaryKey() });
    const db = await connect({ never });
    const error = await caught(db.select().from(never), SchemaError);
    expect(error.message).toMatch(/run db\.migrate\(\)/);
    expect(error.sqlState).toBe('42P01');
    const write = await caught(db.insert(never).values({ id: 1 }), SchemaError);
    expect(write.message).toMatch(/storage of a table is missing; run db\.migrate\(\)/);
    expect(write.cause).toBeInstanceOf(Error);
  });

  it('a value the shard cannot evaluate in a filter is an InvalidInputError', async () => {
    const db = await connect({ notes });
    const error = await caught(db.select().from(notes).where(sql`${notes.id} = 1 / (${notes.id} - ${notes.id})`), InvalidInputError);
    expect(error.sqlState).toBe('22012');
    expect(error.cause).toBeInstanceOf(Error);
  });
});
