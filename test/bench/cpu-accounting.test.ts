import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processTreeCpuMs, readProcStat } from '../../bench/cpu-accounting.js';
import { PostgresServer } from '../../src/harness/postgres-server.js';

describe('CPU accounting of a Postgres server from /proc', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await PostgresServer.create({ unsafeFast: true });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('counts a backend\'s CPU while it lives and after it exited and was reaped', async () => {
    const postmaster = server.pid!;
    const before = processTreeCpuMs(postmaster)!;
    const client = new pg.Client(server.url);
    await client.connect();
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const backend = rows[0]!.pid;
    expect(readProcStat(backend)?.ppid).toBe(postmaster);
    await client.query('SELECT count(*) FROM generate_series(1, 3000000)');
    const stat = readProcStat(backend)!;
    const backendMs = (stat.utime + stat.stime) * 10;
    expect(backendMs).toBeGreaterThan(50);
    const whileAlive = processTreeCpuMs(postmaster)!;
    expect(whileAlive - before).toBeGreaterThanOrEqual(backendMs);

    await client.end();
    // Wait until the postmaster has reaped the backend: its time then sits in the postmaster's cutime/cstime.
    for (let i = 0; i < 100 && readProcStat(backend); i++) await sleep(20);
    expect(readProcStat(backend)).toBeUndefined();
    const afterExit = processTreeCpuMs(postmaster)!;
    expect(afterExit - before).toBeGreaterThanOrEqual(backendMs);
    // Nothing counted twice: the tree did not jump by another backend's worth when it moved to cutime.
    expect(afterExit - whileAlive).toBeLessThan(backendMs);
  });
});
