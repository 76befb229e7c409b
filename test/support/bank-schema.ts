import { bigint, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { describeTable } from '../../src/schema/table-meta.js';

/** Tables shared by the engine's tests and the crash-test child process. */
export const accounts = pgTable('accounts', {
  id: integer('id').primaryKey(),
  balance: bigint('balance', { mode: 'number' }).notNull(),
  owner: text('owner'),
});

/** A ledger: one row per transfer, so a test can check that no acknowledged commit was lost. */
export const transfers = pgTable('transfers', {
  id: text('id').primaryKey(),
  fromId: integer('from_id').notNull(),
  toId: integer('to_id').notNull(),
  amount: bigint('amount', { mode: 'number' }).notNull(),
});

export const accountsMeta = describeTable(accounts);
export const transfersMeta = describeTable(transfers);
export const bankTables = [accountsMeta, transfersMeta];
