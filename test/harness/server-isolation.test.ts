import { chmodSync, chownSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, privateTmpdir, startHostedServer, waitFor, type HostedServer } from '../support/server-host.js';

/** Throwaway servers are for the user who started them, and only while that process lives. */
describe('throwaway Postgres isolation', () => {
  let tmp: string;
  const hosts: HostedServer[] = [];
  beforeAll(() => {
    tmp = privateTmpdir('pgp-isolation-');
  });
  afterAll(async () => {
    for (const { host } of hosts) host.kill('SIGTERM');
    await sleep(1000);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('gives every run its own random password: the old fixed one is refused', async () => {
    const a = await startHostedServer({ TMPDIR: tmp });
    hosts.push(a);
    const b = await startHostedServer({ TMPDIR: tmp });
    hosts.push(b);
    const passwordOf = (url: string): string => decodeURIComponent(new URL(url).password);
    expect(passwordOf(a.url)).not.toBe(passwordOf(b.url));
    expect(passwordOf(a.url).length).toBeGreaterThanOrEqual(16);
    const guess = new pg.Client({ host: '127.0.0.1', port: a.port, user: 'postgres', password: 'percolator', database: 'postgres' });
    guess.on('error', () => {});
    await expect(guess.connect()).rejects.toThrow(/password authentication failed/);
    const owner = new pg.Client(a.url);
    await owner.connect();
    await owner.end();
  });

  it('refuses a cache directory another user owns or others may write', async () => {
    const elsewhere = privateTmpdir('pgp-foreign-cache-');
    try {
      const cache = path.join(elsewhere, `pg-percolator-${process.getuid!()}`);
      mkdirSync(cache, { mode: 0o755 });
      if (process.getuid!() === 0) {
        chownSync(cache, 65534, 65534); // nobody
        await expect(startHostedServer({ TMPDIR: elsewhere })).rejects.toThrow(/owned by uid 65534/);
        chownSync(cache, 0, 0);
      }
      chmodSync(cache, 0o777);
      await expect(startHostedServer({ TMPDIR: elsewhere })).rejects.toThrow(/writable by others/);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('a server dies with its SIGKILLed parent, and its data directory goes', async () => {
    const server = await startHostedServer({ TMPDIR: tmp });
    expect(alive(server.pid)).toBe(true);
    server.host.kill('SIGKILL');
    expect(await waitFor(() => !alive(server.pid), 15_000)).toBe(true);
    expect(await waitFor(() => !existsSync(server.dataDir), 5_000)).toBe(true);
  });
});
