/**
 * count(*) and sum() over N rows on 3 shards (percolator) against the same
 * rows in one plain Postgres table (`local`), and against fetching the rows
 * into the client and reducing them there. Run after a build:
 *
 *   node dist/bench/aggregate-scan.js [rows=100000] [rounds=15]
 *
 * Starts its own throwaway servers (3 shards, one server for `local` and the
 * oracle's meta table), loads the rows, vacuums, then times each query
 * `rounds` times after two warm-up runs, percolator and local taking turns,
 * and prints the medians.
 */
import { performance } from 'node:perf_hooks';
import { count, gt, sum } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { integer, pgTable } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { percolator } from '../src/index.js';
import { PostgresCluster } from '../src/harness/postgres-cluster.js';
import { PostgresServer } from '../src/harness/postgres-server.js';
import { silentLogger } from '../src/logger.js';
import { startOracle } from './start-oracle.js';

const items = pgTable('items', { id: integer().primaryKey(), grp: integer().notNull(), amount: integer().notNull() });

/** Median times of each run, the runs taking turns (so that both see the same load from other work), after two warm-ups each. */
async function medians(rounds: number, ...runs: (() => Promise<unknown>)[]): Promise<number[]> {
  for (const run of runs) {
    await run();
    await run();
  }
  const times = runs.map((): number[] => []);
  for (let i = 0; i < rounds; i++) {
    for (const [k, run] of runs.entries()) {
      const start = performance.now();
      await run();
      times[k]!.push(performance.now() - start);
    }
  }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!);
}

async function main(): Promise<void> {
  const rows = Number(process.argv[2] ?? 100_000);
  const rounds = Number(process.argv[3] ?? 15);
  const [shards, server] = await Promise.all([PostgresCluster.start(3, { unsafeFast: true }), PostgresServer.create({ unsafeFast: true })]);
  const admin = new pg.Client(server.url);
  await admin.connect();
  await admin.query('create database local');
  await admin.query('create database oracle_meta');
  await admin.end();
  const oracle = await startOracle(server.urlFor('oracle_meta'), silentLogger);
  const pool = new pg.Pool({ connectionString: server.urlFor('local'), max: 2 });
  const local = drizzle(pool);
  const db = await percolator({ oracle: [oracle.address], shards: shards.urls, schema: { items }, gc: false });
  try {
    await db.migrate();
    await pool.query('create table items (id integer primary key, grp integer not null, amount integer not null)');
    const all = Array.from({ length: rows }, (_, i) => ({ id: i + 1, grp: i % 100, amount: (i * 7919) % 1000 }));
    for (let i = 0; i < rows; i += 5_000) {
      const chunk = all.slice(i, i + 5_000);
      await Promise.all([db.insert(items).values(chunk), local.insert(items).values(chunk)]);
    }
    await pool.query('vacuum analyze items');
    for (const url of shards.urls) {
      const client = new pg.Client(url);
      await client.connect();
      await client.query('vacuum analyze items__latest');
      await client.query('vacuum analyze items__locks');
      await client.end();
    }
    const expected = all.reduce((t, r) => t + r.amount, 0);
    const check = (total: string | null) => {
      if (Number(total) !== expected) throw new Error(`sum ${total}, expected ${expected}`);
    };
    const results: [string, number, number][] = [];
    const measure = async (name: string, ours: () => Promise<unknown>, theirs: () => Promise<unknown>) => {
      const [o, t] = await medians(rounds, ours, theirs);
      results.push([name, o!, t!]);
    };
    await measure('count(*)', () => db.select({ n: count() }).from(items), () => local.select({ n: count() }).from(items));
    await measure('sum(amount)', async () => check((await db.select({ total: sum(items.amount) }).from(items))[0]!.total), async () => check((await local.select({ total: sum(items.amount) }).from(items))[0]!.total));
    await measure('count(*), sum where amount > 500', () => db.select({ n: count(), total: sum(items.amount) }).from(items).where(gt(items.amount, 500)), () => local.select({ n: count(), total: sum(items.amount) }).from(items).where(gt(items.amount, 500)));
    await measure('sum group by grp (100 groups)', () => db.select({ grp: items.grp, total: sum(items.amount) }).from(items).groupBy(items.grp), () => local.select({ grp: items.grp, total: sum(items.amount) }).from(items).groupBy(items.grp));
    const [fetched] = await medians(Math.min(rounds, 5), async () => (await db.select({ amount: items.amount }).from(items)).reduce((t, r) => t + r.amount, 0));
    console.log(`${rows} rows, 3 shards; medians of ${rounds} runs (ms)\n`);
    console.log('| query | percolator | local | ratio |\n|---|---:|---:|---:|');
    for (const [name, ours, theirs] of results) console.log(`| ${name} | ${ours.toFixed(1)} | ${theirs.toFixed(1)} | ${(ours / theirs).toFixed(2)}x |`);
    console.log(`| sum by fetching the rows (select amount, reduce in JS) | ${fetched!.toFixed(1)} | | |`);
  } finally {
    await db.close();
    await pool.end();
    await oracle.stop();
    await Promise.all([shards.destroy(), server.destroy()]);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
