import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capServers, cpuCapSupport } from '../../bench/server-cpu-cap.js';
import { childPids, readProcStat } from '../../bench/cpu-accounting.js';
import { PostgresServer } from '../../src/harness/postgres-server.js';

/** The cpu cgroup a process is in (its line for the cpu controller: v1 `N:cpu,...:/path`, v2 `0::/path`). */
function cpuGroupOf(pid: number): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const line = lines.find((l) => /:(cpu|cpu,cpuacct|cpuacct,cpu):/.test(l)) ?? lines.find((l) => l.startsWith('0::'))!;
  return line.slice(line.lastIndexOf(':') + 1);
}

let supported: string | undefined;
try {
  cpuCapSupport();
} catch (error) {
  supported = (error as Error).message;
}

// `--server-cpu` needs root and a cpu cgroup controller; where it has neither, it is refused (and this says why).
describe.skipIf(supported !== undefined)(`--server-cpu caps a Postgres server${supported ? ` (not here: ${supported})` : ''}`, () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await PostgresServer.create({ unsafeFast: true });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('puts the postmaster, its children and every later backend in a capped group, and removes it on release', async () => {
    const postmaster = server.pid!;
    const before = cpuGroupOf(postmaster);
    const cap = capServers([{ label: 'cap-test', pid: postmaster }], 0.25);
    let group: string;
    try {
      group = cpuGroupOf(postmaster);
      expect(group).toMatch(/percolator-bench-\d+-cap-test$/);
      // A child that has exited and waits to be reaped cannot be moved, and uses no CPU.
      const living = childPids(postmaster).filter((pid) => (readProcStat(pid)?.state ?? 'Z') !== 'Z');
      for (const child of living) expect(cpuGroupOf(child)).toBe(group);
      const client = new pg.Client(server.url);
      await client.connect();
      try {
        const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
        expect(cpuGroupOf(rows[0]!.pid)).toBe(group);
      } finally {
        await client.end();
      }
      const dir = existsSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us') ? `/sys/fs/cgroup/cpu${group}` : `/sys/fs/cgroup${group}`;
      const quota = existsSync(`${dir}/cpu.max`) ? readFileSync(`${dir}/cpu.max`, 'utf8').trim() : readFileSync(`${dir}/cpu.cfs_quota_us`, 'utf8').trim();
      expect(quota).toMatch(/^25000( 100000)?$/);
    } finally {
      cap.release();
    }
    expect(cpuGroupOf(postmaster)).toBe(before);
    expect(existsSync(`/sys/fs/cgroup/cpu${group}`) || existsSync(`/sys/fs/cgroup${group}`)).toBe(false);
  });
});
