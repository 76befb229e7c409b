/**
 * The client's CPU per row of a multi-row read: N rows of an accounts-like
 * table (integer key, integer balance, as the bank workload's) over 3
 * throwaway shards and a real oracle, then M reads each in its own
 * transaction, one at a time, timed with process.cpuUsage (user + system
 * of this process: the client, its pg connections and oracle client; the
 * servers are other processes). Cases: the whole table (`select().from()`,
 * the bank audit) in snapshot and serializable transactions, and a range
 * of the key (`between`, a tenth of the rows); every case warmed up, then
 * rounds taking the cases in turn. SCAN_COST_CASE=<part of a name> runs
 * only the cases it names (for a CPU profile). Run after a build:
 *
 *   node dist/test/support/scan-cost.js [rows=1000] [scans=300] [rounds=3]
 */
import { between } from 'drizzle-orm';
import { integer, pgTable } from 'drizzle-orm/pg-core';
import { percolator } from '../../src/index.js';
import { startTestCluster } from './test-cluster.js';

const accounts = pgTable('accounts', { id: integer('id').primaryKey(), balance: integer('balance').notNull() });

async function main(): Promise<void> {
  const rows = Number(process.argv[2] ?? 1_000);
  const scans = Number(process.argv[3] ?? 300);
  const rounds = Number(process.argv[4] ?? 3);
  const cluster = await startTestCluster({ shards: 3 });
  const db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: { accounts } });
  try {
    await db.migrate();
    for (let from = 1; from <= rows; from += 500) {
      const batch = Array.from({ length: Math.min(500, rows - from + 1) }, (_, i) => ({ id: from + i, balance: 100 }));
      await db.insert(accounts).values(batch);
    }
    const width = Math.max(1, Math.floor(rows / 10));
    const cases = [
      { name: 'whole table, snapshot', isolation: 'snapshot' as const, perScan: rows, read: undefined },
      { name: 'whole table, serializable', isolation: 'serializable' as const, perScan: rows, read: undefined },
      { name: `key range (${width} rows), snapshot`, isolation: 'snapshot' as const, perScan: width, read: between(accounts.id, 1, width) },
    ];
    console.log(`client CPU per row read: ${rows} rows on 3 shards, ${scans} reads per case and round, one transaction per read; µs per row per round`);
    const chosen = cases.filter((k) => !process.env.SCAN_COST_CASE || k.name.includes(process.env.SCAN_COST_CASE));
    const run = async (c: (typeof cases)[number]) => {
      const got = await db.transaction((tx) => (c.read ? tx.select().from(accounts).where(c.read) : tx.select().from(accounts)), { isolation: c.isolation });
      if (got.length !== c.perScan) throw new Error(`${c.name}: read ${got.length} rows, expected ${c.perScan}`);
    };
    // Every case warmed up first, then rounds taking the cases in turn: none gains from coming later.
    for (const c of chosen) for (let i = 0; i < 100; i++) await run(c);
    const perRow = new Map(chosen.map((c) => [c, [] as number[]]));
    for (let r = 0; r < rounds; r++) {
      for (const c of chosen) {
        const before = process.cpuUsage();
        for (let i = 0; i < scans; i++) await run(c);
        const used = process.cpuUsage(before);
        perRow.get(c)!.push((used.user + used.system) / (scans * c.perScan));
      }
    }
    for (const [c, values] of perRow) {
      const sorted = [...values].sort((a, b) => a - b);
      console.log(`${c.name}: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} µs/row (rounds: ${values.map((v) => v.toFixed(2)).join(', ')})`);
    }
  } finally {
    await db.close();
    await cluster.destroy();
  }
}

await main();
