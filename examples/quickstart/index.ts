// The README's example as a whole application. Servers: `npx percolator up --json`
// prints { shards, oracle }; pass them as PERCOLATOR_SHARDS (comma-separated
// Postgres URLs) and PERCOLATOR_ORACLE (host:port, comma-separated).
import { eq, gt } from 'drizzle-orm';
import { bigint, integer, pgTable, primaryKey } from 'drizzle-orm/pg-core';
import { percolator } from 'pg-percolator';

const shardList = process.env.PERCOLATOR_SHARDS;
const oracleList = process.env.PERCOLATOR_ORACLE;
if (!shardList || !oracleList) {
  console.error('set PERCOLATOR_SHARDS and PERCOLATOR_ORACLE (`npx percolator up --json` prints both)');
  process.exit(2);
}
const [url1, url2, url3] = shardList.split(',');
if (!url1 || !url2 || !url3) throw new Error('PERCOLATOR_SHARDS: three Postgres URLs, comma-separated');

const accounts = pgTable('accounts', { id: integer('id').primaryKey(), balance: bigint('balance', { mode: 'number' }).notNull() });
const orders = pgTable('orders', { accountId: integer('account_id').notNull(), id: integer('id').notNull(), amount: integer('amount').notNull() },
  (t) => [primaryKey({ columns: [t.accountId, t.id] })]);

const db = await percolator({
  oracle: oracleList.split(','),
  shards: [url1, url2, url3],
  schema: { accounts, orders },
  shardKeys: { orders: ['accountId'] },         // all orders of an account live on one shard
});
await db.migrate();                            // MVCC storage on every shard; idempotent
await db.insert(accounts).values({ id: 1, balance: 5000 }); // UniqueViolationError if it already exists
await db.transaction(async (tx) => {
  const [a] = await tx.select().from(accounts).where(eq(accounts.id, 1));
  if (!a || a.balance < 10) return tx.rollback(); // throws TransactionRollbackError: nothing is written
  await tx.update(accounts).set({ balance: a.balance - 10 }).where(eq(accounts.id, 1));
  await tx.insert(orders).values({ accountId: 1, id: 7, amount: 10 });
});                                            // conflicts are retried; { isolation: 'serializable' } on request
const rich = await db.select().from(accounts).where(gt(accounts.balance, 1000));   // one snapshot across all shards
const balance: number = rich[0]?.balance ?? 0;  // rows are typed: balance is a number
console.log(JSON.stringify({ rich, balance }));
await db.close();
