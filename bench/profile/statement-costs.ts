/**
 * Where a system's Postgres time goes, per statement: starts throwaway shards
 * (and a local server) with pg_stat_statements loaded, runs `percolator bench`
 * against them with the given arguments, then prints the statements of the
 * shards ranked by server time (execution + planning), nested ones (inside
 * PL/pgSQL functions) marked. Profiling aid, not part of the CLI:
 *
 *   npm run build && node dist/bench/profile/statement-costs.js --systems percolator --audit-share 0
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PostgresCluster } from '../../src/harness/postgres-cluster.js';

const SHARDS = 3;
const TOP = 15;

interface StatementCost {
  calls: number;
  execMs: number;
  planMs: number;
}

async function main(benchArgs: string[]): Promise<void> {
  const cluster = await PostgresCluster.start(SHARDS + 1, {
    settings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all', 'pg_stat_statements.track_planning': 'on' },
  });
  try {
    for (const url of cluster.urls) await withClient(url, (c) => c.query('CREATE EXTENSION pg_stat_statements'));
    const shardUrls = cluster.urls.slice(0, SHARDS);
    const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/percolator.js');
    const args = ['bench', ...shardUrls.flatMap((u) => ['--shard-url', u]), '--local-url', cluster.urls[SHARDS]!, ...benchArgs];
    process.stdout.write(`percolator ${benchArgs.join(' ')} (on ${SHARDS} shards with pg_stat_statements)\n`);
    process.stdout.write(execFileSync(process.execPath, [bin, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));

    const costs = new Map<string, StatementCost>();
    for (const url of shardUrls) {
      const { rows } = await withClient(url, (c) =>
        c.query<{ query: string; calls: string; total_exec_time: number; total_plan_time: number; toplevel: boolean }>(
          `SELECT query, calls, total_exec_time, total_plan_time, toplevel FROM pg_stat_statements
           WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT ILIKE '%pg_stat_statements%'`,
        ),
      );
      for (const r of rows) {
        const key = `${r.toplevel ? '' : '[nested] '}${r.query.replace(/\s+/g, ' ').slice(0, 100)}`;
        const cost = costs.get(key) ?? { calls: 0, execMs: 0, planMs: 0 };
        cost.calls += Number(r.calls);
        cost.execMs += r.total_exec_time;
        cost.planMs += r.total_plan_time;
        costs.set(key, cost);
      }
    }
    process.stdout.write(`\n${'calls'.padStart(8)} ${'ms/call exec'.padStart(13)} ${'ms/call plan'.padStart(13)}  statement (all shards)\n`);
    const ranked = [...costs].sort(([, a], [, b]) => b.execMs + b.planMs - (a.execMs + a.planMs)).slice(0, TOP);
    for (const [statement, c] of ranked) {
      process.stdout.write(`${String(c.calls).padStart(8)} ${(c.execMs / c.calls).toFixed(3).padStart(13)} ${(c.planMs / c.calls).toFixed(3).padStart(13)}  ${statement}\n`);
    }
  } finally {
    await cluster.destroy();
  }
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

await main(process.argv.slice(2));
