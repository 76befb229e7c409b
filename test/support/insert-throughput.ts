/**
 * Insert throughput with a `serial` key against client-supplied keys: N
 * concurrent workers of one client each insert single rows (one transaction
 * per insert) into a table keyed by a serial column, or by integers the
 * workers take from a shared counter, alternating rounds of S seconds
 * (supplied, serial, supplied, serial, ...). Prints each round, the
 * serial/supplied ratio of the medians, and the median of the ratios of
 * adjacent rounds (steadier on a shared machine). Throwaway shards, fsync off.
 *
 *   npm run build && node dist/test/support/insert-throughput.js [seconds=10] [workers=16] [rounds=3]
 */
import { integer, pgTable, serial, text } from 'drizzle-orm/pg-core';
import { percolator } from '../../src/index.js';
import { startTestCluster } from './test-cluster.js';

const seconds = Number(process.argv[2] ?? 10);
const workers = Number(process.argv[3] ?? 16);
const rounds = Number(process.argv[4] ?? 3);
const supplied = pgTable('supplied_keys', { id: integer().primaryKey(), note: text().notNull() });
const generated = pgTable('serial_keys', { id: serial().primaryKey(), note: text().notNull() });

const cluster = await startTestCluster({ shards: 3 });
const db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: { supplied, generated }, maxRetries: 100 });
let nextKey = 1;
async function round(kind: 'supplied' | 'serial'): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let inserts = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < until) {
        if (kind === 'supplied') await db.insert(supplied).values({ id: nextKey++, note: 'x' });
        else await db.insert(generated).values({ note: 'x' });
        inserts++;
      }
    }),
  );
  return inserts / seconds;
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
try {
  await db.migrate();
  await round('supplied'); // warm-up: connections, prepared statements, first id block
  await round('serial');
  const results: Record<string, number[]> = { supplied: [], serial: [] };
  for (let i = 0; i < rounds; i++) {
    for (const kind of ['supplied', 'serial'] as const) {
      const rate = await round(kind);
      results[kind]!.push(rate);
      console.log(`round ${i + 1} ${kind}: ${rate.toFixed(0)} inserts/s`);
    }
  }
  const ratio = median(results.serial!) / median(results.supplied!);
  const pairRatio = median(results.serial!.map((rate, i) => rate / results.supplied![i]!));
  console.log(
    `${workers} workers, ${rounds} x ${seconds} s rounds: supplied median ${median(results.supplied!).toFixed(0)}/s, serial median ${median(results.serial!).toFixed(0)}/s, ` +
      `serial/supplied ${ratio.toFixed(2)}x (median of round pairs ${pairRatio.toFixed(2)}x)`,
  );
} finally {
  await db.close();
  await cluster.destroy();
}
