/**
 * What the slot filter of reads costs a shard that holds no foreign rows
 * (the steady state): the count(*) statement the engine sends one shard,
 * as built (with the reader's map version and the slot check), against the
 * same text without the check (as before it existed) and the per-row
 * filter a shard holding foreign rows is sent, on one throwaway server holding
 * N latest rows, prepared with generic plans as the engine runs them.
 * The two take turns; medians of each. Run after a build:
 *
 *   node dist/test/support/slot-filter-cost.js [rows=100000] [rounds=31]
 */
import { performance } from 'node:perf_hooks';
import { integer, pgTable } from 'drizzle-orm/pg-core';
import { describeTable } from '../../src/schema/table-meta.js';
import { buildProjectedRead } from '../../src/shard/projected-read-statement.js';
import { slotGateSql } from '../../src/shard/slot-read-filter.js';
import { TableStorage } from '../../src/shard/table-storage.js';
import { startThrowawayStorage } from './throwaway-storage.js';

const items = pgTable('items', { id: integer().primaryKey(), grp: integer().notNull(), amount: integer().notNull() });

async function main(): Promise<void> {
  const rows = Number(process.argv[2] ?? 100_000);
  const rounds = Number(process.argv[3] ?? 31);
  const meta = describeTable(items);
  const storage = new TableStorage(meta);
  const server = await startThrowawayStorage(meta);
  const { client } = server;
  try {
    await client.query(`insert into ${storage.latest} (id, grp, amount, slot, commit_ts, op) select g, g % 100, g % 1000, g % 4096, 10, 'put' from generate_series(1, $1::int) g`, [rows]);
    await client.query(`vacuum analyze ${storage.latest}`);
    const built = buildProjectedRead({ storage, readTs: 100n, ownStartTs: 100n, mapVersion: 1n, select: [{ aggregate: 'count' }], buffered: [] });
    // Without the check: as the statement was before it existed (the version stays a parameter: the same parameters).
    const gate = slotGateSql('$3::bigint');
    if (!built.sql.includes(gate)) throw new Error('the statement does not contain the slot check this bench removes');
    const plain = built.sql.replace(gate, '($3::bigint is not null)');
    // And the per-row filter a shard holding foreign rows gets.
    const perRow = buildProjectedRead({ storage, readTs: 100n, ownStartTs: 100n, mapVersion: 1n, slotFilter: true, select: [{ aggregate: 'count' }], buffered: [] }).sql;
    const run = async (name: string, text: string) => {
      const start = performance.now();
      const result = await client.query({ name, text, values: built.params as unknown[] });
      if (result.rows.length === 0) throw new Error('no rows');
      return performance.now() - start;
    };
    const times = { filtered: [] as number[], plain: [] as number[], single: [] as number[] };
    for (let i = 0; i < rounds + 2; i++) {
      const a = await run('filtered', built.sql);
      const b = await run('plain', plain);
      const c = await run('single', perRow);
      if (i >= 2) {
        times.filtered.push(a);
        times.plain.push(b);
        times.single.push(c);
      }
    }
    const median = (t: number[]) => t.sort((x, y) => x - y)[Math.floor(t.length / 2)]!;
    console.log(`${rows} latest rows on one shard, count(*) as the engine sends it; medians of ${rounds} (ms)`);
    console.log(`| statement | ms |\n|---|---:|\n| as built: the slot check once per statement | ${median(times.filtered).toFixed(2)} |\n| without the check (before) | ${median(times.plain).toFixed(2)} |\n| each row's slot tested (a shard holding foreign rows) | ${median(times.single).toFixed(2)} |`);
  } finally {
    await server.destroy();
  }
}

await main();
