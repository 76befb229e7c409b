import { index, integer, pgTable, text, uniqueIndex, varchar } from 'drizzle-orm/pg-core';
import { describeTable } from '../../src/schema/table-meta.js';

/** A table with a unique and a non-unique index, shared by the index tests and their crash-client process. */
export const indexedUsers = pgTable(
  'indexed_users',
  {
    id: integer().primaryKey(),
    email: varchar({ length: 64 }).notNull().unique(),
    status: text().notNull(),
    score: integer().notNull().default(0),
  },
  (t) => [index('indexed_users_status_idx').on(t.status)],
);

export const indexedUsersMeta = describeTable(indexedUsers);

/** Users with a unique column, a non-unique index and a unique index on a nullable column: the index tests' table. */
export const users = pgTable(
  'users',
  {
    id: integer().primaryKey(),
    email: varchar({ length: 64 }).notNull().unique(),
    status: text().notNull(),
    nick: text(),
    score: integer().notNull().default(0),
  },
  (t) => [index('users_status_idx').on(t.status), uniqueIndex('users_nick_idx').on(t.nick)],
);
