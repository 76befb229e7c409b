import pg from 'pg';
import type { BenchRow, BenchTable } from '../bench-table.js';
import { createTable, insertRows, quoteIdent } from './sql-text.js';

const LOAD_BATCH = 5000;

/**
 * A connection pool to one Postgres database sized for the run's clients.
 * `lock_timeout` breaks what Postgres cannot see: a deadlock between two
 * 2pc transactions that spans two shards (each shard sees only one wait).
 */
export function openPool(url: string, clients: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: clients, options: '-c lock_timeout=1000' });
  pool.on('error', () => {}); // an idle connection dropped by a stopping server is not a crash of the benchmark
  return pool;
}

export async function createAndLoad(pool: pg.Pool, table: BenchTable, rows: readonly BenchRow[]): Promise<void> {
  for (const statement of createTable(table)) await pool.query(statement);
  for (let i = 0; i < rows.length; i += LOAD_BATCH) {
    const { text, values } = insertRows(table, rows.slice(i, i + LOAD_BATCH));
    await pool.query(text, values);
  }
  await pool.query(`ANALYZE ${quoteIdent(table.name)}`);
}

export async function dropTable(pool: pg.Pool, table: BenchTable): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS ${quoteIdent(table.name)}`);
}

/** CHECKPOINT needs superuser (or pg_checkpoint); on a user's server without it, skip quietly. */
export async function checkpoint(pool: pg.Pool): Promise<void> {
  await pool.query('CHECKPOINT').catch(() => {});
}
