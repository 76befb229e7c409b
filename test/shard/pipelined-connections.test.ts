import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShardUnavailableError } from '../../src/errors.js';
import { PostgresServer } from '../../src/harness/postgres-server.js';
import { silentLogger } from '../../src/logger.js';
import { ShardPool, type ShardPoolOptions } from '../../src/shard/shard-pool.js';

/**
 * ShardPool's single statements on pipelined connections, against a real
 * Postgres: where statements go, and that sharing a connection changes
 * nothing of what each statement does or how it fails.
 */
describe('pipelined shard connections', () => {
  let server: PostgresServer;
  const pools: ShardPool[] = [];
  const shard = (options: ShardPoolOptions = {}): ShardPool => {
    const pool = new ShardPool(0, server.url, silentLogger, options);
    pools.push(pool);
    return pool;
  };
  const backendOf = async (pool: ShardPool, sleepSeconds = 0): Promise<number> =>
    (await pool.query<{ pid: number }>({ text: 'select pg_backend_pid() as pid, pg_sleep($1)', values: [sleepSeconds] }, { prepare: true })).rows[0]!.pid;
  const valuesIn = async (table: string): Promise<number[]> => {
    const client = new pg.Client(server.url);
    await client.connect();
    try {
      return (await client.query<{ v: number }>(`select v from ${table} order by v`)).rows.map((r) => r.v);
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    server = await PostgresServer.create({ unsafeFast: true });
    const client = new pg.Client(server.url);
    await client.connect();
    await client.query('create table own_txn (v int primary key); create table closing (v int); create table waited (v int)');
    await client.end();
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await server?.destroy();
  });

  it('returns rows as arrays of the values an object row holds, in column order, prepared (first and later executions) or not', async () => {
    const pool = shard();
    const statement = {
      text: `select 1::int as a, null::text as b, array['x', null]::text[] as c, true as d, '2024-01-02 03:04:05+00'::timestamptz as e, $1::bigint as f, g from generate_series(1, 2) g`,
      values: ['9007199254740993'],
    };
    const objects = (await pool.query(statement, { prepare: true })).rows;
    expect(objects[0]).toEqual({ a: 1, b: null, c: ['x', null], d: true, e: expect.any(String), f: '9007199254740993', g: 1 });
    const expected = { rows: objects.map((row) => Object.values(row)), columns: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] };
    for (const prepare of [true, true, false]) {
      const result = await pool.query(statement, { prepare, rowMode: 'array' });
      expect({ rows: result.rows, columns: result.columns }).toEqual(expected);
    }
  });

  it('packs statements onto the first connection until 8 are in flight, then spills to the next', async () => {
    const pool = shard({ pipelines: 4 });
    // Submitted in one tick, each sleeping, so none finishes before the last is placed.
    const pids = await Promise.all(Array.from({ length: 20 }, () => backendOf(pool, 0.05)));
    const perBackend = [...new Set(pids)].map((pid) => pids.filter((p) => p === pid).length);
    expect(perBackend).toEqual([8, 8, 4]);
    // Quiet again: everything goes back to the first connection.
    expect(new Set(await Promise.all([backendOf(pool), backendOf(pool)]))).toEqual(new Set([pids[0]]));
  });

  it('runs each statement as its own local transaction: one failing leaves those around it on its connection untouched', async () => {
    const pool = shard({ pipelines: 1 });
    const insert = (v: number) => pool.query({ text: 'insert into own_txn values ($1)', values: [v] }, { prepare: true });
    const results = await Promise.allSettled([insert(1), insert(1), pool.query({ text: 'select 1 / 0', values: [] }), insert(2)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect(((results[1] as PromiseRejectedResult).reason as { sqlState?: string }).sqlState).toBe('23505');
    expect(((results[2] as PromiseRejectedResult).reason as { sqlState?: string }).sqlState).toBe('22012');
    expect(await valuesIn('own_txn')).toEqual([1, 2]);
  });

  it('hands every caller its own rows, with failing statements interleaved on the same connection', async () => {
    const pool = shard({ pipelines: 1 });
    const echo = (v: number) => pool.query<{ v: number }>({ text: 'select $1::int as v, 10 / $2::int as q', values: [v, v % 7 === 0 ? 0 : 1] }, { prepare: true });
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, v) => echo(v)));
    results.forEach((result, v) => {
      if (v % 7 === 0) expect(((result as PromiseRejectedResult).reason as { sqlState?: string }).sqlState).toBe('22012');
      else expect((result as PromiseFulfilledResult<{ rows: { v: number }[] }>).value.rows).toEqual([{ v, q: 10 }]);
    });
  });

  it('runs durable statements with synchronous_commit on, lazy ones off, and both with a lock timeout', async () => {
    const pool = shard();
    const setting = async (name: string, lazy: boolean) =>
      (await pool.query<Record<string, string>>({ text: `show ${name}`, values: [] }, { lazy })).rows[0]![name];
    expect(await setting('synchronous_commit', false)).toBe('on');
    expect(await setting('synchronous_commit', true)).toBe('off');
    expect(await setting('lock_timeout', false)).toBe('1s');
    expect(await setting('lock_timeout', true)).toBe('1s');
  });

  it('fails only the statement stuck on a row lock (55P03), not those queued behind it', async () => {
    const pool = shard({ pipelines: 1 });
    await pool.query({ text: 'insert into own_txn values (100)', values: [] });
    const holder = new pg.Client(server.url);
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('select * from own_txn where v = 100 for update');
      const [stuck, behind] = await Promise.allSettled([
        pool.query({ text: 'delete from own_txn where v = 100', values: [] }),
        pool.query<{ one: number }>({ text: 'select 1 as one', values: [] }),
      ]);
      expect(((stuck as PromiseRejectedResult).reason as { sqlState?: string }).sqlState).toBe('55P03');
      expect((behind as PromiseFulfilledResult<{ rows: unknown[] }>).value.rows).toEqual([{ one: 1 }]);
    } finally {
      await holder.end();
    }
  });

  it('fails a statement past its deadline with everything queued behind it, and writes the next one to a new connection', async () => {
    const pool = shard({ pipelines: 1, statementTimeoutMs: 300 });
    const before = await backendOf(pool);
    let next: Promise<number> | undefined;
    const slow = backendOf(pool, 3).catch((error: unknown) => {
      // Right away, before the dead connection's 'end' event: it must not be written to.
      next = backendOf(pool);
      throw error;
    });
    await sleep(150);
    // Its own deadline is 150 ms after the slow one's: it fails because the connection closed.
    const behind = backendOf(pool);
    const [slowResult, behindResult] = await Promise.allSettled([slow, behind]);
    expect((slowResult as PromiseRejectedResult).reason).toBeInstanceOf(ShardUnavailableError);
    const behindError = (behindResult as PromiseRejectedResult).reason as ShardUnavailableError;
    expect(behindError).toBeInstanceOf(ShardUnavailableError);
    expect(behindError.message).not.toMatch(/read timeout/);
    const after = await next!;
    expect(after).not.toBe(before);
  });

  it('holds statements unsent past pipelineDepth on every connection; one that waits too long fails without running', async () => {
    const pool = shard({ pipelines: 1, pipelineDepth: 2, connectTimeoutMs: 400 });
    const insertAfter = (v: number, seconds: number) =>
      pool.query({ text: `select pg_sleep(${seconds}); insert into waited values (${v})`, values: [] });
    // Two fill the connection; the first frees room after 0.5 s, past the third's 400 ms of waiting unsent.
    const results = await Promise.allSettled([insertAfter(1, 0.5), insertAfter(2, 0), insertAfter(3, 0)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(ShardUnavailableError);
    expect(await valuesIn('waited')).toEqual([1, 2]);
    // Room frees in time: the waiting one runs once the first is answered.
    await Promise.all([insertAfter(4, 0.1), insertAfter(5, 0.1), insertAfter(6, 0)]);
    expect(await valuesIn('waited')).toEqual([1, 2, 4, 5, 6]);
  });

  it('closes a connection idle longer than idleTimeoutMillis and opens a new one on demand', async () => {
    const pool = shard({ pipelines: 1, idleTimeoutMillis: 200 });
    const first = await backendOf(pool);
    await sleep(700);
    const client = new pg.Client(server.url);
    await client.connect();
    try {
      expect((await client.query('select 1 from pg_stat_activity where pid = $1', [first])).rowCount).toBe(0);
    } finally {
      await client.end();
    }
    expect(await backendOf(pool)).not.toBe(first);
  });

  it('close() waits for the statements in flight, then refuses new ones', async () => {
    const pool = shard();
    await backendOf(pool); // the connection is open: close() has something to end
    const events: string[] = [];
    const writing = pool.query({ text: 'select pg_sleep(0.3); insert into closing values (7)', values: [] }).then(() => events.push('written'));
    await pool.close().then(() => events.push('closed'));
    await writing;
    expect(events).toEqual(['written', 'closed']);
    expect(await valuesIn('closing')).toEqual([7]);
    await expect(pool.query({ text: 'select 1', values: [] })).rejects.toThrow(/after calling end/);
  });
});
