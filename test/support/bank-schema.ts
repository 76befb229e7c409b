import { bigint, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { describeTable } from '../../src/schema/table-meta.js';

/** Tables shared by the engine's tests and the crash-test child process. */
export const accounts = pgTable('accounts', {
  id: integer('id').primaryKey(),
  balance: bigint('balance', { mode: 'number' }).notNull(),
  owner: text('owner'),
});

export const accountsMeta = describeTable(accounts);
