import { execFileSync } from 'node:child_process';
import { expect } from 'vitest';
import pg from 'pg';

/** Rows left in a storage table on every shard, read with plain SQL (bypassing the engine). */
export async function countOnShards(urls: readonly string[], sql: string): Promise<number[]> {
  return (await queryOnShards<{ n: string }>(urls, sql)).map((rows) => Number(rows[0]!.n));
}

/** Runs one statement on every shard with plain SQL (bypassing the engine): its rows, per shard. */
export async function queryOnShards<R extends pg.QueryResultRow = Record<string, unknown>>(urls: readonly string[], sql: string): Promise<R[][]> {
  return Promise.all(
    urls.map(async (url) => {
      const client = new pg.Client(url);
      await client.connect();
      try {
        return (await client.query<R>(sql)).rows;
      } finally {
        await client.end();
      }
    }),
  );
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

/**
 * Readers do not wait for locks whose TTL has not run out (they push them
 * past their snapshot), so a crashed client's locks go away only once their
 * TTL is over and a reader meets them. Runs `read` (which must meet them)
 * until no lock row of `locksTable` is left on any shard.
 */
export async function expectLocksEventuallyResolved(urls: readonly string[], locksTable: string, read: () => Promise<void>): Promise<void> {
  await expect
    .poll(
      async () => {
        await read();
        return countOnShards(urls, `select count(*) as n from ${locksTable}`);
      },
      { timeout: 10_000, interval: 100 },
    )
    .toEqual(urls.map(() => 0));
}
