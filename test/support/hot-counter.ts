/**
 * One hot row incremented by N concurrent transactions of one client, with
 * `for update` (pessimistic: they queue on the lock) and without (optimistic:
 * first committer wins, the others retry), alternating twice. Prints time
 * and retries of each round (throwaway shards, fsync off).
 *
 *   npm run build && node dist/test/support/hot-counter.js [N=32]
 */
import { eq } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { percolator } from '../../src/index.js';
import { accounts } from './bank-schema.js';
import { startTestCluster } from './test-cluster.js';

const N = Number(process.argv[2] ?? 32);
const cluster = await startTestCluster({ shards: 3 });
const registry = new Registry();
const db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: { accounts }, registry, maxRetries: 1000 });
try {
  await db.migrate();
  await db.insert(accounts).values({ id: 1, balance: 0 });
  const retries = async (): Promise<number> =>
    ((await registry.getSingleMetric('percolator_retries_total')?.get())?.values ?? []).reduce((sum, v) => sum + v.value, 0);
  for (const locking of [true, false, true, false]) {
    const before = await retries();
    const startedAt = performance.now();
    await Promise.all(
      Array.from({ length: N }, () =>
        db.transaction(async (tx) => {
          const query = tx.select().from(accounts).where(eq(accounts.id, 1));
          const [row] = locking ? await query.for('update') : await query;
          await tx.update(accounts).set({ balance: row!.balance + 1 }).where(eq(accounts.id, 1));
        }),
      ),
    );
    const ms = performance.now() - startedAt;
    console.log(`${locking ? 'for update' : 'optimistic'}: ${N} increments in ${ms.toFixed(0)} ms (${((N / ms) * 1000).toFixed(0)}/s), ${(await retries()) - before} retries`);
  }
  const [row] = await db.select().from(accounts).where(eq(accounts.id, 1));
  console.log(`final value ${row!.balance} (expected ${4 * N})`);
} finally {
  await db.close();
  await cluster.destroy();
}
