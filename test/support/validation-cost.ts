/**
 * What serializable read validation costs a shard: the statement the engine
 * sends one shard (read-validation-statement.ts), for K keys read, on one
 * throwaway server holding N keys with V versions each (and their latest
 * rows), sent unprepared (as the engine sends it) and prepared with a
 * generic plan. Per key count: the Postgres backend's CPU per statement
 * (from /proc, over R statements of random keys), each key past the first
 * (the marginal cost of a validated read: the rest is the statement's fixed
 * part, parsing, planning, the GC and slot-move checks), and the median
 * time per statement on an idle connection, and the client's time to
 * build the statement's text and parameters. `scan` is one scanned predicate
 * (`value between`, matching nothing, no index on the value: every version in the window is
 * read, and this table's window holds all of them). Run after a build, as
 * root (the backend's /proc entry):
 *
 *   node dist/test/support/validation-cost.js [keys=10000] [versions=3] [statements=2000]
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { between } from 'drizzle-orm';
import { integer, pgTable } from 'drizzle-orm/pg-core';
import { describeTable } from '../../src/schema/table-meta.js';
import { validationStatement, type ValidationChecks } from '../../src/shard/read-validation-statement.js';
import { TableStorage } from '../../src/shard/table-storage.js';
import { startThrowawayStorage } from './throwaway-storage.js';
import { scannedFilter } from '../../src/txn/read-set.js';

const items = pgTable('items', { id: integer().primaryKey(), value: integer().notNull() });

async function main(): Promise<void> {
  const keys = Number(process.argv[2] ?? 10_000);
  const versions = Number(process.argv[3] ?? 3);
  const statements = Number(process.argv[4] ?? 2_000);
  const meta = describeTable(items);
  const storage = new TableStorage(meta);
  const server = await startThrowawayStorage(meta);
  const { client } = server;
  try {
    // Versions at commit_ts 10, 20, ...; the transaction validated started at 5 and commits at 10 * versions + 5.
    await client.query(
      `insert into ${storage.versions} (id, commit_ts, start_ts, op, value, slot) select g, 10 * v, 10 * v - 1, 'put', g % 1000, g % 4096 from generate_series(1, $1::int) g, generate_series(1, $2::int) v`,
      [keys, versions],
    );
    await client.query(`insert into ${storage.latest} (id, value, slot, commit_ts, op) select g, g % 1000, g % 4096, 10 * $2::int, 'put' from generate_series(1, $1::int) g`, [keys, versions]);
    await client.query(`vacuum analyze ${storage.versions}, ${storage.latest}, ${storage.locks}`);
    const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    // The window (startTs, commitTs] lies past every version: nothing conflicts, every check runs to its end.
    const input = { startTs: 10n * BigInt(versions) + 5n, commitTs: 10n * BigInt(versions) + 9n, mapVersion: 1n, storageOf: () => storage };
    const keyChecks = (k: number): ValidationChecks => ({
      keys: new Map([['items', Array.from({ length: k }, () => ({ keyTexts: [String(1 + Math.floor(Math.random() * keys))], readTs: input.startTs }))]]),
      predicates: [],
    });
    const scan: ValidationChecks = { keys: new Map(), predicates: [{ table: 'items', ...scannedFilter(between(items.value, 2000, 2999)), readTs: 0n }] };
    const cases: { name: string; perKey: number; checks: () => ValidationChecks }[] = [
      ...[1, 10, 100].map((k) => ({ name: `${k} keys`, perKey: k, checks: () => keyChecks(k) })),
      { name: `scan (${keys * versions} versions in its window)`, perKey: 0, checks: () => scan },
    ];
    console.log(`validation statement on one shard: ${keys} keys x ${versions} versions; ${statements} statements per row (CPU: the backend's, from /proc)`);
    console.log('| checks | sent | CPU ms / statement | CPU µs / key past the first | median ms / statement | client µs to build it |\n|---|---|---:|---:|---:|---:|');
    const oneKey = new Map<boolean, number>();
    for (const c of cases) {
      for (const prepared of [false, true]) {
        // A scanned predicate over every version is slow: fewer statements.
        const count = c.name.startsWith('scan') ? Math.max(20, Math.floor(statements / 50)) : statements;
        const run = async () => {
          const checks = c.checks();
          const built = performance.now();
          const s = validationStatement(input, checks);
          buildMs += performance.now() - built;
          const start = performance.now();
          const result = await client.query(prepared ? { name: `v_${c.name.split(' ')[0]}`, text: s.text, values: s.values as unknown[] } : { text: s.text, values: s.values as unknown[] });
          if (result.rows.length > 0) throw new Error(`unexpected conflict: ${JSON.stringify(result.rows[0])}`);
          return performance.now() - start;
        };
        let buildMs = 0;
        for (let i = 0; i < 10; i++) await run();
        buildMs = 0;
        const cpuBefore = backendCpuMs(pid);
        const times: number[] = [];
        for (let i = 0; i < count; i++) times.push(await run());
        const cpu = (backendCpuMs(pid) - cpuBefore) / count;
        times.sort((a, b) => a - b);
        if (c.perKey === 1) oneKey.set(prepared, cpu);
        const perKey = c.perKey > 1 ? (((cpu - oneKey.get(prepared)!) * 1000) / (c.perKey - 1)).toFixed(1) : '';
        const buildUs = ((buildMs * 1000) / count).toFixed(1);
        console.log(`| ${c.name} | ${prepared ? 'prepared' : 'unprepared'} | ${cpu.toFixed(3)} | ${perKey} | ${times[Math.floor(times.length / 2)]!.toFixed(3)} | ${buildUs} |`);
      }
    }
  } finally {
    await server.destroy();
  }
}

/** utime + stime of a process, in ms. */
function backendCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // After the command: state is field 3, utime 14 and stime 15 (1-based) of the whole line.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

await main();
