import { bigint, boolean, integer, jsonb, numeric, pgEnum, pgTable, primaryKey, text, timestamp, uuid, varchar } from 'drizzle-orm/pg-core';

/**
 * The client's test tables (`percolator()`, drizzle builders, the type tests):
 * one `accounts` for every client-level suite. The engine's suites use the
 * bank tables of bank-schema.ts instead: they write whole row images through
 * the engine, without the client's defaults (`createdAt`) or checks.
 */
export const accounts = pgTable('accounts', {
  id: integer().primaryKey(),
  balance: integer().notNull(),
  owner: varchar({ length: 16 }),
  createdAt: timestamp('created_at').defaultNow().notNull(),
});

export const orders = pgTable(
  'orders',
  {
    accountId: integer('account_id').notNull(),
    id: integer().notNull(),
    amount: integer().notNull(),
    note: text(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.id] })],
);

export const mood = pgEnum('mood', ['sad', 'ok', 'happy']);

/** One column of each kind the row validation distinguishes. */
export const gadgets = pgTable('gadgets', {
  id: bigint({ mode: 'bigint' }).primaryKey(),
  name: text().notNull(),
  price: numeric({ precision: 12, scale: 2 }),
  weight: bigint({ mode: 'number' }),
  active: boolean().default(true).notNull(),
  tag: uuid(),
  feeling: mood(),
  spec: jsonb().$type<{ size: number }>(),
  labels: text().array(),
  updatedAt: timestamp('updated_at').$onUpdate(() => new Date(0)),
});

/** Not part of any schema given to percolator(). */
export const strangers = pgTable('strangers', { id: integer().primaryKey(), balance: integer() });

export const schema = { accounts, orders, gadgets };
