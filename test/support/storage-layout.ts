/**
 * What the storage layout costs Postgres per transaction, at the SQL level:
 * one throwaway durable server, one client running conflict-free two-key
 * transfers one at a time (point read of both keys, prewrite, guarded
 * commit; prewrite without waiting for the WAL flush and commit with it, as
 * the engine does on the primary's shard), with the engine's own statements
 * on its layout (`current`: lock row inserted, deleted, version inserted,
 * latest row upserted) and the prototype of one-row-layout.ts (`one-row`:
 * two HOT updates of one row per key and the replaced image appended to a
 * history table). Layouts take turns, `rounds` times; each run starts
 * after a CHECKPOINT. Reports per transaction: wall time, CPU of the two
 * backends (/proc/<pid>/schedstat) and of the whole server, execution time
 * of the top-level statements (pg_stat_statements), WAL bytes, records and
 * full-page images (pg_stat_wal), and tuples written (pg_stat_user_tables).
 *
 *   npm run build && node dist/test/support/storage-layout.js [transfers=3000] [rounds=3] [accounts=1000]
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { PostgresServer } from '../../src/harness/postgres-server.js';
import { silentLogger } from '../../src/logger.js';
import { describeTable } from '../../src/schema/table-meta.js';
import { migrateShards } from '../../src/shard/migrate.js';
import { slotOfTexts } from '../../src/shard/shard-of.js';
import { buildSharedPointRead } from '../../src/shard/point-read-statements.js';
import { ShardPool } from '../../src/shard/shard-pool.js';
import { TableStorage } from '../../src/shard/table-storage.js';
import { processTreeCpuMs } from '../../bench/cpu-accounting.js';
import { accountsTable } from '../../bench/bench-table.js';
import { seededRandom } from '../../bench/random.js';
import { oneRowCommit, oneRowDdl, oneRowPointRead, oneRowPrewrite, oneRowPrewriteParams, oneRowSeed, oneRowTables } from './one-row-layout.js';

const transfers = Number(process.argv[2] ?? 3000);
const rounds = Number(process.argv[3] ?? 3);
const accounts = Number(process.argv[4] ?? 1000);
const BALANCE = 1000;
const WARMUP_TRANSFERS = 1000;

type LayoutName = 'current' | 'one-row';

/** Two connections per layout, like the engine's: flushed commits, unflushed prewrites. */
interface Connections {
  readonly durable: pg.Client;
  readonly lazy: pg.Client;
}

interface Layout {
  readonly name: LayoutName;
  readonly tables: readonly string[];
  transfer(c: Connections, startTs: bigint, commitTs: bigint, from: number, to: number): Promise<void>;
}

interface Figures {
  /** Server time (execution + planning) per transaction of each statement, nested ones (in the prewrite function) marked. */
  statements: Map<string, number>;
  wallMs: number;
  backendCpuMs: number;
  serverCpuMs: number;
  statementMs: number;
  walBytes: number;
  walRecords: number;
  walFpi: number;
  inserted: number;
  updated: number;
  hotUpdated: number;
  deleted: number;
  indexEntries: number;
}

const storage = new TableStorage(describeTable(accountsTable('acc_cur').drizzle));

function query<R extends pg.QueryResultRow = pg.QueryResultRow>(client: pg.Client, name: string, text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
  return client.query<R>({ name, text, values });
}

const current: Layout = {
  name: 'current',
  tables: [storage.meta.versionsTable, storage.meta.locksTable, storage.meta.latestTable],
  async transfer(c, startTs, commitTs, from, to) {
    const keys = [[String(from)], [String(to)]];
    const read = buildSharedPointRead(storage, [{ readTs: startTs, ownStartTs: startTs, mapVersion: 1n, keys }]);
    const { rows } = await query<{ id: number; balance: number }>(c.durable, 'cur-read', read.sql, read.params);
    const balance = (id: number) => rows.find((r) => r.id === id)!.balance;
    const prewrite = storage.prewrite(startTs, 'acc_cur', keys[0]!, 20_000, [
      { keyTexts: keys[0]!, op: 'put', isInsert: false, slot: slotOfTexts(keys[0]!), valueTexts: [String(balance(from) - 1)] },
      { keyTexts: keys[1]!, op: 'put', isInsert: false, slot: slotOfTexts(keys[1]!), valueTexts: [String(balance(to) + 1)] },
    ]);
    const conflicts = await query(c.lazy, 'cur-prewrite', prewrite.text, [...prewrite.values]);
    if (conflicts.rows.length > 0) throw new Error(`current: unexpected prewrite conflict ${JSON.stringify(conflicts.rows)}`);
    const commit = storage.commitShared([{ startTs, commitTs, keys, guarded: true }]);
    const committed = await query<{ written: number }>(c.durable, 'cur-commit', commit.text, [...commit.values]);
    if (committed.rows[0]?.written !== 2) throw new Error('current: commit wrote nothing');
  },
};

const oneRow: Layout = {
  name: 'one-row',
  tables: oneRowTables,
  async transfer(c, startTs, commitTs, from, to) {
    const keys = [String(from), String(to)];
    const { rows } = await query<{ id: number; balance: number; lock_start: string | null }>(c.durable, 'one-read', oneRowPointRead, [startTs.toString(), startTs.toString(), keys]);
    if (rows.some((r) => r.lock_start !== null)) throw new Error('one-row: unexpected lock');
    const balance = (id: number) => rows.find((r) => r.id === id)!.balance;
    const params = oneRowPrewriteParams(startTs, from, [{ id: from, balance: balance(from) - 1 }, { id: to, balance: balance(to) + 1 }]);
    const conflicts = await query(c.lazy, 'one-prewrite', oneRowPrewrite, params);
    if (conflicts.rows.length > 0) throw new Error(`one-row: unexpected prewrite conflict ${JSON.stringify(conflicts.rows)}`);
    const committed = await query<{ written: number }>(c.durable, 'one-commit', oneRowCommit, [startTs.toString(), commitTs.toString(), String(from), keys]);
    if (committed.rows[0]?.written !== 2) throw new Error('one-row: commit wrote nothing');
  },
};

async function connect(url: string, lazy: boolean): Promise<pg.Client> {
  const options = `-c plan_cache_mode=force_generic_plan${lazy ? ' -c synchronous_commit=off' : ''}`;
  const client = new pg.Client({ connectionString: url, options });
  await client.connect();
  return client;
}

/** Nanoseconds on a CPU of one process (/proc/<pid>/schedstat, first field). */
function schedNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
}

async function backendPid(client: pg.Client): Promise<number> {
  return (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
}

interface Counters {
  wal: { bytes: number; records: number; fpi: number };
  tables: { ins: number; upd: number; hot: number; del: number; indexEntries: number };
  statementMs: number;
}

async function counters(admin: pg.Client, tables: readonly string[]): Promise<Counters> {
  const wal = (await admin.query<{ bytes: string; records: string; fpi: string }>('select wal_bytes::text as bytes, wal_records::text as records, wal_fpi::text as fpi from pg_stat_wal')).rows[0]!;
  // Index entries written: every insert and every update that is not HOT, once per index of the table.
  const t = (await admin.query<{ ins: string; upd: string; hot: string; del: string; idx: string }>(
    `select coalesce(sum(n_tup_ins), 0)::text as ins, coalesce(sum(n_tup_upd), 0)::text as upd, coalesce(sum(n_tup_hot_upd), 0)::text as hot,
       coalesce(sum(n_tup_del), 0)::text as del,
       coalesce(sum((n_tup_ins + n_tup_upd - n_tup_hot_upd) * (select count(*) from pg_index i where i.indrelid = s.relid)), 0)::text as idx
     from pg_stat_user_tables s where relname = any($1)`,
    [tables],
  )).rows[0]!;
  const s = (await admin.query<{ ms: number }>(
    `select coalesce(sum(total_exec_time + total_plan_time), 0) as ms from pg_stat_statements where toplevel and query not ilike '%pg_stat%' and query not ilike '%checkpoint%'`,
  )).rows[0]!;
  return {
    wal: { bytes: Number(wal.bytes), records: Number(wal.records), fpi: Number(wal.fpi) },
    tables: { ins: Number(t.ins), upd: Number(t.upd), hot: Number(t.hot), del: Number(t.del), indexEntries: Number(t.idx) },
    statementMs: s.ms,
  };
}

async function statementCosts(admin: pg.Client, count: number): Promise<Map<string, number>> {
  const { rows } = await admin.query<{ query: string; ms: number; toplevel: boolean }>(
    `select query, total_exec_time + total_plan_time as ms, toplevel from pg_stat_statements
     where query not ilike '%pg_stat%' and query not ilike '%checkpoint%' and calls >= $1 order by ms desc`,
    [count],
  );
  return new Map(rows.map((r) => [`${r.toplevel ? '' : '  [nested] '}${r.query.replace(/\s+/g, ' ').slice(0, 90)}`, r.ms / count]));
}

async function runLayout(server: PostgresServer, admin: pg.Client, layout: Layout, firstTs: bigint, seed: number): Promise<Figures> {
  const c: Connections = { durable: await connect(server.url, false), lazy: await connect(server.url, true) };
  try {
    const random = seededRandom(seed);
    const pair = (): [number, number] => {
      const a = random.int(accounts);
      const b = (a + 1 + random.int(accounts - 1)) % accounts;
      return [a, b];
    };
    let ts = firstTs;
    // Warm-up: plans, caches, prepared statements, and the full-page image of every page the run will
    // update (the checkpoint first): the run's WAL is then the steady state between checkpoints.
    await admin.query('checkpoint');
    for (let i = 0; i < WARMUP_TRANSFERS; i++) await layout.transfer(c, ts++, ts++, ...pair());
    await admin.query(`analyze ${layout.tables.join(', ')}`);
    await admin.query("select pg_stat_reset_shared('wal'), pg_stat_statements_reset()");
    for (const client of [c.durable, c.lazy]) await client.query('select pg_stat_force_next_flush()');
    const before = await counters(admin, layout.tables);
    const pids = [await backendPid(c.durable), await backendPid(c.lazy)];
    const backendBefore = pids.reduce((sum, pid) => sum + schedNs(pid), 0);
    const serverBefore = processTreeCpuMs(server.pid!) ?? 0;
    const started = performance.now();
    for (let i = 0; i < transfers; i++) await layout.transfer(c, ts++, ts++, ...pair());
    const wallMs = performance.now() - started;
    const backendCpuMs = (pids.reduce((sum, pid) => sum + schedNs(pid), 0) - backendBefore) / 1e6;
    const serverCpuMs = (processTreeCpuMs(server.pid!) ?? 0) - serverBefore;
    for (const client of [c.durable, c.lazy]) await client.query('select pg_stat_force_next_flush()');
    const after = await counters(admin, layout.tables);
    const per = (value: number) => value / transfers;
    return {
      statements: await statementCosts(admin, transfers),
      wallMs: per(wallMs),
      backendCpuMs: per(backendCpuMs),
      serverCpuMs: per(serverCpuMs),
      statementMs: per(after.statementMs),
      walBytes: per(after.wal.bytes),
      walRecords: per(after.wal.records),
      walFpi: per(after.wal.fpi),
      inserted: per(after.tables.ins - before.tables.ins),
      updated: per(after.tables.upd - before.tables.upd),
      hotUpdated: per(after.tables.hot - before.tables.hot),
      deleted: per(after.tables.del - before.tables.del),
      indexEntries: per(after.tables.indexEntries - before.tables.indexEntries),
    };
  } finally {
    await Promise.all([c.durable.end(), c.lazy.end()]);
  }
}

async function createLayouts(server: PostgresServer, admin: pg.Client): Promise<void> {
  const shard = new ShardPool(0, server.url, silentLogger);
  try {
    await migrateShards([shard], [storage.meta]);
  } finally {
    await shard.close();
  }
  await admin.query(`insert into ${storage.versions} (id, commit_ts, start_ts, op, balance) select g, 1, 1, 'put', ${BALANCE} from generate_series(0, ${accounts - 1}) g`);
  await admin.query(`insert into ${storage.latest} (id, commit_ts, op, balance) select g, 1, 'put', ${BALANCE} from generate_series(0, ${accounts - 1}) g`);
  await admin.query(oneRowDdl);
  await admin.query(oneRowSeed(accounts, BALANCE));
  await admin.query('create extension pg_stat_statements');
  await admin.query('vacuum analyze');
}

const COLUMNS: [Exclude<keyof Figures, 'statements'>, string, number][] = [
  ['wallMs', 'wall ms', 3],
  ['backendCpuMs', 'backend CPU ms', 3],
  ['serverCpuMs', 'server CPU ms', 3],
  ['statementMs', 'statement ms', 3],
  ['walBytes', 'WAL bytes', 0],
  ['walRecords', 'WAL records', 1],
  ['walFpi', 'FPI', 2],
  ['inserted', 'ins', 2],
  ['updated', 'upd', 2],
  ['hotUpdated', 'HOT', 2],
  ['deleted', 'del', 2],
  ['indexEntries', 'index entries', 2],
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const server = await PostgresServer.create({ settings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all', 'pg_stat_statements.track_planning': 'on' } });
  const admin = new pg.Client(server.url);
  try {
    await admin.connect();
    await createLayouts(server, admin);
    const results = new Map<LayoutName, Figures[]>([['current', []], ['one-row', []]]);
    let ts = 10n;
    for (let round = 0; round < rounds; round++) {
      for (const layout of round % 2 === 0 ? [current, oneRow] : [oneRow, current]) {
        const figures = await runLayout(server, admin, layout, ts, 42 + round);
        ts += BigInt(2 * (transfers + WARMUP_TRANSFERS));
        results.get(layout.name)!.push(figures);
        process.stderr.write(`round ${round + 1} ${layout.name}: ${figures.wallMs.toFixed(3)} ms/txn, backend CPU ${figures.backendCpuMs.toFixed(3)} ms/txn\n`);
      }
    }
    process.stdout.write(`storage layouts, ${transfers} conflict-free two-key transfers per run, one client, ${accounts} accounts, medians of ${rounds} rounds, per transaction:\n\n`);
    process.stdout.write(`| layout | ${COLUMNS.map(([, label]) => label).join(' | ')} |\n|---|${COLUMNS.map(() => '---:').join('|')}|\n`);
    for (const [name, runs] of results) {
      process.stdout.write(`| ${name} | ${COLUMNS.map(([key, , digits]) => median(runs.map((r) => r[key])).toFixed(digits)).join(' | ')} |\n`);
    }
    for (const [name, runs] of results) {
      process.stdout.write(`\n${name}, last round, server ms per transaction by statement:\n`);
      for (const [statement, ms] of runs.at(-1)!.statements) process.stdout.write(`${ms.toFixed(3).padStart(8)}  ${statement}\n`);
    }
  } finally {
    await admin.end().catch(() => {});
    await server.destroy();
  }
}

await main();
