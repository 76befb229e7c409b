import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privateTmpdir, startHostedServer, type HostedServer } from '../support/server-host.js';

const repo = path.resolve(import.meta.dirname, '../..');

describe('throwaway Postgres from a checkout other users cannot enter', () => {
  let checkout: string;
  let tmp: string;
  const hosts: HostedServer[] = [];
  beforeAll(() => {
    // Like a clone under root's home or `mktemp -d`: mode 0700. Hard links
    // (same file system) make the copy instant; what matters is the directory.
    checkout = mkdtempSync('/tmp/pgp-checkout-');
    expect(statSync(checkout).mode & 0o777).toBe(0o700);
    for (const entry of ['package.json', 'bin', 'dist', 'schema', 'node_modules']) {
      execFileSync('cp', ['-al', path.join(repo, entry), path.join(checkout, entry)]);
    }
    tmp = privateTmpdir('pgp-unreachable-');
  });
  afterAll(async () => {
    for (const { host } of hosts) host.kill('SIGTERM');
    await sleep(1000);
    rmSync(checkout, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  it('starts a server whose binaries live inside it', async () => {
    const server = await startHostedServer({ TMPDIR: tmp }, { root: checkout });
    hosts.push(server);
    const client = new pg.Client(server.url);
    await client.connect();
    const { rows } = await client.query<{ one: number }>('select 1 as one');
    expect(rows).toEqual([{ one: 1 }]);
    await client.end();
  });

  it('a server that fails to start says why, from its own log', async () => {
    await expect(startHostedServer({ TMPDIR: tmp }, { root: checkout, settings: { shared_buffers: 'plenty' } })).rejects.toThrow(
      /exited during start[^]*invalid value for parameter "shared_buffers": "plenty"/,
    );
  });
});
