import { execFileSync } from 'node:child_process';
import pg from 'pg';

/** Rows left in a storage table on every shard, read with plain SQL (bypassing the engine). */
export async function countOnShards(urls: readonly string[], sql: string): Promise<number[]> {
  return Promise.all(
    urls.map(async (url) => {
      const client = new pg.Client(url);
      await client.connect();
      try {
        const { rows } = await client.query<{ n: string }>(sql);
        return Number(rows[0]!.n);
      } finally {
        await client.end();
      }
    }),
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Pauses (SIGSTOP) or resumes (SIGCONT) a Postgres server *with its backends*:
 * stopping only the postmaster leaves existing connections working.
 */
export function signalServerTree(pid: number | undefined, signal: 'SIGSTOP' | 'SIGCONT'): void {
  if (pid === undefined) return;
  const flag = signal === 'SIGSTOP' ? '-STOP' : '-CONT';
  try {
    execFileSync('pkill', [flag, '-P', String(pid)]);
  } catch {
    /* no children */
  }
  process.kill(pid, signal);
}

/** All rows of a query on every shard (diagnostics in failing tests). */
export async function rowsOnShards(urls: readonly string[], sql: string): Promise<unknown[][]> {
  return Promise.all(
    urls.map(async (url) => {
      const client = new pg.Client(url);
      await client.connect();
      try {
        return (await client.query(sql)).rows;
      } finally {
        await client.end();
      }
    }),
  );
}
