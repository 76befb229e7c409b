/**
 * What a read through an index costs against the same read as a scan, as
 * the table grows: 10, 1,000 and 100,000 rows (or the sizes given) over 3
 * throwaway shards (fsync off), one client, one read at a time. Each read
 * is made on an indexed column and on an unindexed copy of it holding the
 * same values: a lookup by a unique email, a range of about 10 rows, and
 * the first 10 rows in a column's order. Prints the mean time per read, the
 * rows returned, and the buffer pages each shard's statements touched per
 * read (pg_stat_statements: shared blocks hit or read). Each size is
 * measured with a new client after VACUUM ANALYZE (plans are made per
 * connection; loading leaves the locks tables' indexes full of dead
 * entries, which autovacuum clears in a running system, and a read's lock
 * check would otherwise count them).
 *
 *   npm run build && node dist/test/support/index-cost-bench.js [R=200] [sizes=10,1000,100000]
 */
import { between, desc, eq } from 'drizzle-orm';
import { index, integer, pgTable, varchar } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { percolator } from '../../src/index.js';
import { startTestCluster } from './test-cluster.js';

const READS = Number(process.argv[2] ?? 200);
const SIZES = (process.argv[3] ?? '10,1000,100000').split(',').map(Number);

const items = pgTable(
  'cost_items',
  {
    id: integer().primaryKey(),
    email: varchar({ length: 64 }).notNull().unique(),
    emailCopy: varchar({ length: 64 }).notNull(),
    score: integer().notNull(),
    scoreCopy: integer().notNull(),
  },
  (t) => [index('cost_items_score_idx').on(t.score)],
);

const cluster = await startTestCluster({ shards: 3, shardSettings: { shared_preload_libraries: 'pg_stat_statements' } });
const connect = () => percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: { items }, gc: false });
let db = await connect();
const counters = await Promise.all(cluster.shardUrls.map(async (url) => {
  const client = new pg.Client(url);
  await client.connect();
  return client;
}));

/** Buffer pages the shard's statements touched (hit or read) since the last reset, per shard (pg_stat_statements: counted as each statement ends). */
async function pagesTouched(): Promise<number[]> {
  return Promise.all(counters.map(async (c) => {
    const { rows } = await c.query<{ n: string }>(
      `select coalesce(sum(shared_blks_hit + shared_blks_read), 0)::text as n from pg_stat_statements
       where dbid = (select oid from pg_database where datname = current_database()) and query not like '%pg_stat_statements%'`,
    );
    return Number(rows[0]!.n);
  }));
}

async function measure(name: string, size: number, read: (n: number) => Promise<unknown[]>): Promise<void> {
  for (let n = 0; n < 20; n++) await read(n); // warm-up: connections, prepared statements, the index's readiness
  await Promise.all(counters.map((c) => c.query('select pg_stat_statements_reset()')));
  const startedAt = performance.now();
  let returned = 0;
  for (let n = 0; n < READS; n++) returned += (await read(n)).length;
  const ms = (performance.now() - startedAt) / READS;
  const perShard = (await pagesTouched()).map((pages) => (pages / READS).toFixed(0)).join('/');
  console.log(`${String(size).padStart(7)}  ${name.padEnd(34)} ${ms.toFixed(2).padStart(7)} ms  ${(returned / READS).toFixed(1).padStart(5)} rows  pages per shard ${perShard}`);
}

try {
  await db.migrate();
  await Promise.all(counters.map((c) => c.query('create extension pg_stat_statements')));
  let stored = 0;
  console.log(`${READS} reads each, 3 shards, 1 client`);
  for (const size of SIZES) {
    for (; stored < size; stored += 2000) {
      const batch = Array.from({ length: Math.min(2000, size - stored) }, (_, k) => {
        const id = stored + k;
        const score = id;
        return { id, email: `user${id}@example.com`, emailCopy: `user${id}@example.com`, score, scoreCopy: score };
      });
      await db.insert(items).values(batch);
    }
    stored = size;
    // Fresh statistics and a new client: generic plans are made on a connection's first execution, with the statistics of that moment.
    await Promise.all(counters.map((c) => c.query('vacuum analyze')));
    await db.close();
    db = await connect();
    const pick = (n: number) => (n * 104_729 + 9) % size;
    const width = Math.min(10, size) - 1;
    await measure('lookup by unique email (index)', size, (n) => db.select().from(items).where(eq(items.email, `user${pick(n)}@example.com`)));
    await measure('lookup by email copy (scan)', size, (n) => db.select().from(items).where(eq(items.emailCopy, `user${pick(n)}@example.com`)));
    await measure('range of 10 by score (index)', size, (n) => db.select().from(items).where(between(items.score, pick(n) - width, pick(n))));
    await measure('range of 10 by score copy (scan)', size, (n) => db.select().from(items).where(between(items.scoreCopy, pick(n) - width, pick(n))));
    await measure('top 10 by score (index)', size, () => db.select().from(items).orderBy(desc(items.score)).limit(10));
    await measure('top 10 by score copy (scan)', size, () => db.select().from(items).orderBy(desc(items.scoreCopy)).limit(10));
  }
} finally {
  await Promise.all(counters.map((c) => c.end()));
  await db.close();
  await cluster.destroy();
}
