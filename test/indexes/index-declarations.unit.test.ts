import { relations } from 'drizzle-orm';
import { check, foreignKey, index, integer, pgEnum, pgPolicy, pgTable, text, unique } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { TableRegistry } from '../../src/client/table-registry.js';
import { SchemaError } from '../../src/errors.js';
import { describeTable } from '../../src/schema/table-meta.js';
import { users } from '../support/users-schema.js';


describe('index declarations', () => {
  it('every index and unique constraint becomes an index with its own storage', () => {
    const meta = describeTable(users);
    const byName = new Map(meta.indexes.map((i) => [i.name, i]));
    expect([...byName.keys()].sort()).toEqual(['users_email_unique', 'users_nick_idx', 'users_status_idx']);
    const status = byName.get('users_status_idx')!;
    expect(status.unique).toBe(false);
    // Not unique: key = indexed columns then the primary key; placed by the indexed columns.
    expect(status.storage.primaryKey.map((c) => c.name)).toEqual(['status', 'id']);
    expect(status.storage.shardKey.map((c) => c.name)).toEqual(['status']);
    expect(status.storage.name).toBe('users_status_idx__idx');
    expect(status.storage.alias).toBe('users');
    const email = byName.get('users_email_unique')!;
    // Unique: key = indexed columns, the primary key as value.
    expect(email.unique).toBe(true);
    expect(email.storage.primaryKey.map((c) => c.name)).toEqual(['email']);
    expect(email.storage.columns.map((c) => c.name)).toEqual(['email', 'id']);
    expect(email.storage.indexOf).toBe(email);
  });

  it('table unique() with and without a name, composite, and a column unique() with its own name', () => {
    const t = pgTable('memberships', { id: integer().primaryKey(), org: integer().notNull(), user: integer().notNull(), role: text(), code: text().unique('code_once') }, (t) => [
      unique().on(t.org, t.user),
      unique('one_role').on(t.org, t.role),
    ]);
    const meta = describeTable(t);
    expect(meta.indexes.map((i) => [i.name, i.columns.map((c) => c.name)])).toEqual([
      ['memberships_org_user_unique', ['org', 'user']],
      ['one_role', ['org', 'role']],
      ['code_once', ['code']],
    ]);
  });

  const refused: [string, () => unknown, RegExp][] = [
    ['a foreign key (references)', () => pgTable('c1', { id: integer().primaryKey(), userId: integer().references(() => users.id) }), /foreign key .* not enforced/],
    [
      'a foreign key (foreignKey())',
      () => pgTable('c2', { id: integer().primaryKey(), userId: integer() }, (t) => [foreignKey({ columns: [t.userId], foreignColumns: [users.id] })]),
      /foreign key .* not enforced/,
    ],
    ['a check constraint', () => pgTable('c3', { id: integer().primaryKey(), n: integer() }, (t) => [check('positive', sql`${t.n} > 0`)]), /check constraint positive is not enforced/],
    ['a generated column', () => pgTable('c4', { id: integer().primaryKey(), n: integer(), twice: integer().generatedAlwaysAs(sql`n * 2`) }), /generatedAlwaysAs/],
    ['an expression index', () => pgTable('c5', { id: integer().primaryKey(), e: text() }, (t) => [index('lower_e').on(sql`lower(${t.e})`)]), /expression/],
    ['a partial index', () => pgTable('c6', { id: integer().primaryKey(), e: text() }, (t) => [index('some_e').on(t.e).where(sql`${t.e} is not null`)]), /partial/],
    ['a gin index', () => pgTable('c7', { id: integer().primaryKey(), e: text() }, (t) => [index('gin_e').using('gin', t.e)]), /gin/],
    ['nullsNotDistinct on a nullable column', () => pgTable('c8', { id: integer().primaryKey(), e: text() }, (t) => [unique('u_e').on(t.e).nullsNotDistinct()]), /nullsNotDistinct/],
    ['row-level security', () => pgTable('c9', { id: integer().primaryKey() }, () => [pgPolicy('p', { as: 'permissive' })]), /row-level security/],
    ['an index name too long for its storage', () => pgTable('c10', { id: integer().primaryKey(), e: text() }, (t) => [index('x'.repeat(45)).on(t.e)]), /shorter name/],
  ];
  for (const [what, declare, message] of refused) {
    it(`refuses ${what} with a SchemaError`, () => {
      const table = declare();
      const error = (() => {
        try {
          new TableRegistry({ table });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(SchemaError);
      expect((error as Error).message).toMatch(message);
    });
  }

  it('nullsNotDistinct on not-null columns is kept (no NULL can occur)', () => {
    const t = pgTable('c11', { id: integer().primaryKey(), e: text().notNull() }, (t) => [unique('u_e2').on(t.e).nullsNotDistinct()]);
    expect(describeTable(t).indexes.map((i) => i.unique)).toEqual([true]);
  });

  it('a schema imported with relations() and pgEnum() entries keeps only its tables', () => {
    const mood = pgEnum('mood', ['happy', 'sad']);
    const posts = pgTable('posts', { id: integer().primaryKey(), authorId: integer().notNull(), mood: mood() });
    const usersRelations = relations(users, ({ many }) => ({ posts: many(posts) }));
    const postsRelations = relations(posts, ({ one }) => ({ author: one(users, { fields: [posts.authorId], references: [users.id] }) }));
    const registry = new TableRegistry({ users, posts, mood, usersRelations, postsRelations });
    expect(registry.tables.map((t) => t.name).sort()).toEqual(['posts', 'users']);
    expect(registry.storedTables.map((t) => t.name)).toContain('users_email_unique__idx');
    expect(() => new TableRegistry({ users, other: { not: 'a table' } })).toThrow(SchemaError);
    const twin = pgTable('twin', { id: integer().primaryKey(), status: text() }, (t) => [index('users_status_idx').on(t.status)]);
    expect(() => new TableRegistry({ users, twin })).toThrow(/both name the SQL table "users_status_idx__idx"/);
  });
});
