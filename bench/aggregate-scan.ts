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
 * and prints the median times and the Postgres CPU each query cost (all
 * three shards for percolator; /proc ticks of 10 ms, averaged over the runs).
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { count, gt, sum } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { integer, pgTable } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { percolator } from '../src/index.js';
import { PostgresCluster } from '../src/harness/postgres-cluster.js';
import { PostgresServer } from '../src/harness/postgres-server.js';
import { silentLogger } from '../src/logger.js';
import { processTreeCpuMs } from './cpu-accounting.js';
import { startOracle } from './start-oracle.js';

const items = pgTable('items', { id: integer().primaryKey(), grp: integer().notNull(), amount: integer().notNull() });

/** One side of a comparison: the query, and the Postgres servers (postmaster pids) whose CPU it spends. */
interface Side {
  readonly run: () => Promise<unknown>;
  readonly servers: readonly number[];
}

/**
 * Per side, the median time and the mean Postgres CPU (ms, from /proc: less
 * swayed by other work on the machine than time) of `rounds` runs, the sides
 * taking turns (so that both see the same load), after two warm-ups each.
 */
async function medians(rounds: number, ...sides: Side[]): Promise<{ ms: number; serverCpuMs: number }[]> {
  for (const side of sides) {
    await side.run();
    await side.run();
  }
  const times = sides.map((): number[] => []);
  const cpu = sides.map(() => 0);
  const serverCpu = (side: Side) => side.servers.reduce((total, pid) => total + (processTreeCpuMs(pid) ?? 0), 0);
  for (let i = 0; i < rounds; i++) {
    for (const [k, side] of sides.entries()) {
      const cpuBefore = serverCpu(side);
      const start = performance.now();
      await side.run();
      times[k]!.push(performance.now() - start);
      cpu[k]! += serverCpu(side) - cpuBefore;
    }
  }
  return times.map((t, k) => ({ ms: t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!, serverCpuMs: cpu[k]! / rounds }));
}

/** The 1, 5 and 15 minute load averages: the timings are only comparable on a machine equally quiet. */
function loadAverage(): string {
  return loadavg().map((l) => l.toFixed(1)).join(' / ');
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
      // All three storage tables: left to autovacuum, the versions table's first vacuum lands in the middle of the timings.
      for (const table of ['items__latest', 'items__locks', 'items__versions']) await client.query(`vacuum analyze ${table}`);
      await client.end();
    }
    const expected = all.reduce((t, r) => t + r.amount, 0);
    const check = (total: string | null) => {
      if (Number(total) !== expected) throw new Error(`sum ${total}, expected ${expected}`);
    };
    const loadBefore = loadAverage();
    const results: [string, { ms: number; serverCpuMs: number }, { ms: number; serverCpuMs: number }][] = [];
    const shardPids = shards.servers.map((s) => s.pid!);
    const measure = async (name: string, ours: () => Promise<unknown>, theirs: () => Promise<unknown>) => {
      const [o, t] = await medians(rounds, { run: ours, servers: shardPids }, { run: theirs, servers: [server.pid!] });
      results.push([name, o!, t!]);
    };
    await measure('count(*)', () => db.select({ n: count() }).from(items), () => local.select({ n: count() }).from(items));
    await measure('sum(amount)', async () => check((await db.select({ total: sum(items.amount) }).from(items))[0]!.total), async () => check((await local.select({ total: sum(items.amount) }).from(items))[0]!.total));
    await measure('count(*), sum where amount > 500', () => db.select({ n: count(), total: sum(items.amount) }).from(items).where(gt(items.amount, 500)), () => local.select({ n: count(), total: sum(items.amount) }).from(items).where(gt(items.amount, 500)));
    await measure('sum group by grp (100 groups)', () => db.select({ grp: items.grp, total: sum(items.amount) }).from(items).groupBy(items.grp), () => local.select({ grp: items.grp, total: sum(items.amount) }).from(items).groupBy(items.grp));
    const [fetched] = await medians(Math.min(rounds, 5), { run: async () => (await db.select({ amount: items.amount }).from(items)).reduce((t, r) => t + r.amount, 0), servers: shardPids });
    console.log(`${rows} rows, 3 shards; medians of ${rounds} runs (ms); load average ${loadBefore} before, ${loadAverage()} after\n`);
    console.log('| query | percolator | local | ratio | Postgres CPU per query: percolator (3 shards) | local |\n|---|---:|---:|---:|---:|---:|');
    for (const [name, ours, theirs] of results) console.log(`| ${name} | ${ours.ms.toFixed(1)} | ${theirs.ms.toFixed(1)} | ${(ours.ms / theirs.ms).toFixed(2)}x | ${ours.serverCpuMs.toFixed(1)} | ${theirs.serverCpuMs.toFixed(1)} |`);
    console.log(`| sum by fetching the rows (select amount, reduce in JS) | ${fetched!.ms.toFixed(1)} | | | ${fetched!.serverCpuMs.toFixed(1)} | |`);
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
