/**
 * Secondary indexes, measured: lookups by a unique email against lookups by
 * primary key, and inserts into a table with two indexes against a table
 * without, each by C concurrent single-operation transactions for S
 * seconds, on N rows over 3 throwaway shards (fsync off). Prints operations
 * per second, mean latency and shard statements per operation (local
 * transactions counted by pg_stat_database on every shard, so background
 * work such as secondary commits is included).
 *
 *   npm run build && node dist/test/support/index-bench.js [N=20000] [S=5] [C=16]
 */
import { eq } from 'drizzle-orm';
import { index, integer, pgTable, text, varchar } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { percolator } from '../../src/index.js';
import { startTestCluster } from './test-cluster.js';

const ROWS = Number(process.argv[2] ?? 20_000);
const SECONDS = Number(process.argv[3] ?? 5);
const CLIENTS = Number(process.argv[4] ?? 16);

const users = pgTable(
  'bench_users',
  { id: integer().primaryKey(), email: varchar({ length: 64 }).notNull().unique(), status: text().notNull() },
  (t) => [index('bench_users_status_idx').on(t.status)],
);
const plain = pgTable('bench_plain', { id: integer().primaryKey(), email: varchar({ length: 64 }).notNull(), status: text().notNull() });

const cluster = await startTestCluster({ shards: 3 });
const db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: { users, plain }, maxRetries: 100, gc: false });
const counters = await Promise.all(cluster.shardUrls.map(async (url) => {
  const client = new pg.Client(url);
  await client.connect();
  return client;
}));
const statements = async (): Promise<number> => {
  const counts = await Promise.all(counters.map((c) => c.query<{ n: string }>('select (xact_commit + xact_rollback)::text as n from pg_stat_database where datname = current_database()')));
  return counts.reduce((sum, r) => sum + Number(r.rows[0]!.n), 0);
};

async function measure(name: string, op: (client: number, n: number) => Promise<unknown>): Promise<void> {
  const before = await statements();
  const deadline = performance.now() + SECONDS * 1000;
  let done = 0;
  let latency = 0;
  await Promise.all(Array.from({ length: CLIENTS }, async (_, client) => {
    for (let n = 0; performance.now() < deadline; n++) {
      const startedAt = performance.now();
      await op(client, n);
      latency += performance.now() - startedAt;
      done++;
    }
  }));
  const perOp = ((await statements()) - before - counters.length) / done;
  console.log(`${name.padEnd(28)} ${(done / SECONDS).toFixed(0).padStart(6)}/s  mean ${(latency / done).toFixed(2)} ms  ${perOp.toFixed(2)} shard statements/op`);
}

try {
  await db.migrate();
  for (let i = 0; i < ROWS; i += 2000) {
    const batch = Array.from({ length: Math.min(2000, ROWS - i) }, (_, k) => ({ id: i + k, email: `user${i + k}@example.com`, status: `s${(i + k) % 10}` }));
    await db.insert(users).values(batch);
    await db.insert(plain).values(batch);
  }
  const pick = () => Math.floor(Math.random() * ROWS);
  console.log(`${ROWS} rows, 3 shards, ${CLIENTS} clients, ${SECONDS} s each`);
  for (let round = 0; round < 2; round++) {
    await measure('lookup by primary key', () => db.select().from(users).where(eq(users.id, pick())));
    await measure('lookup by unique email', () => db.select().from(users).where(eq(users.email, `user${pick()}@example.com`)));
    await measure('insert, no index', (c, n) => db.insert(plain).values({ id: 1_000_000 * (round + 1) + c * 10_000 + n, email: `p${round}-${c}-${n}@x`, status: `s${n % 10}` }));
    await measure('insert, unique + index', (c, n) => db.insert(users).values({ id: 1_000_000 * (round + 1) + c * 10_000 + n, email: `u${round}-${c}-${n}@x`, status: `s${n % 10}` }));
    await measure('update email (read + write)', (c, n) => db.update(users).set({ email: `m${round}-${c}-${n}@x` }).where(eq(users.id, (c * 997 + n) % ROWS)));
  }
} finally {
  await Promise.all(counters.map((c) => c.end()));
  await db.close();
  await cluster.destroy();
}
