import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { eq } from 'drizzle-orm';
import { integer, pgTable } from 'drizzle-orm/pg-core';
import { Etcd3 } from 'etcd3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { childPids } from '../../bench/cpu-accounting.js';
import { EtcdCluster, etcdBinary } from '../../src/harness/etcd-cluster.js';
import { percolator } from '../../src/index.js';
import { parseShardAddress } from '../../src/shard/shard-address.js';
import { alive, waitFor } from '../support/server-host.js';

/**
 * Runs `percolator up <args> --json`: checks the printed shards with
 * `inspect`, that a client can use them (then `afterUse` with the printed
 * meta store), that `postgresServers` servers (and `etcdMembers` etcd
 * members) run, and that Ctrl-C removes every one of them with its data.
 */
async function upUntilCtrlC(
  args: string[],
  postgresServers: number,
  inspect: (shards: string[]) => Promise<void>,
  options: { etcdMembers?: number; afterUse?: (meta: string) => Promise<void> } = {},
): Promise<void> {
  const up = spawn(process.execPath, ['bin/percolator.js', 'up', ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  up.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => up.once('close', (code) => resolve(code)));
  try {
    const [line] = await Promise.race([createInterface({ input: up.stdout })[Symbol.asyncIterator]().next().then((r) => [r.value as string]), exited.then(() => [undefined])]);
    expect(line, stderr).toBeDefined();
    const { shards, oracle, meta } = JSON.parse(line!) as { shards: string[]; oracle: string; meta: string };
    await inspect(shards);

    const counters = pgTable('counters', { id: integer().primaryKey(), n: integer().notNull() });
    const db = await percolator({ oracle: [oracle], shards, schema: { counters } });
    try {
      await db.migrate();
      await db.insert(counters).values([{ id: 1, n: 1 }, { id: 2, n: 2 }]);
      expect(await db.select().from(counters).where(eq(counters.id, 2))).toEqual([{ id: 2, n: 2 }]);
    } finally {
      await db.close();
    }
    await options.afterUse?.(meta);

    const children = childPids(up.pid!);
    const argvs = children.map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'));
    const dataDirs = argvs.flatMap((argv) => (argv.includes('-D') ? [argv[argv.indexOf('-D') + 1]!] : []));
    expect(dataDirs).toHaveLength(postgresServers);
    const etcdDirs = argvs.flatMap((argv) => (argv.includes('--data-dir') ? [argv[argv.indexOf('--data-dir') + 1]!] : []));
    expect(etcdDirs).toHaveLength(options.etcdMembers ?? 0);
    dataDirs.push(...etcdDirs);
    up.kill('SIGINT');
    expect(await exited).toBe(130); // killed by SIGINT, after the cleanup
    expect(await waitFor(() => !children.some(alive), 5000)).toBe(true);
    expect(dataDirs.filter((dir) => existsSync(dir))).toEqual([]);
  } finally {
    up.kill('SIGKILL');
  }
}

/** `percolator up <args>` that must refuse its arguments: exit 2 with `message` on stderr. */
async function refused(args: string[], message: string): Promise<void> {
  const up = spawn(process.execPath, ['bin/percolator.js', 'up', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  up.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  expect(await new Promise<number | null>((resolve) => up.once('close', resolve))).toBe(2);
  expect(stderr).toContain(message);
}

/** What one server of a shard is: in recovery or not, and the standbys streaming from it. */
async function roleOf(url: string): Promise<{ standby: boolean; synchronous: string[] }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    const [{ standby }] = (await client.query<{ standby: boolean }>('select pg_is_in_recovery() as standby')).rows as [{ standby: boolean }];
    const { rows } = await client.query<{ sync_state: string }>("select sync_state from pg_stat_replication where state = 'streaming'");
    return { standby, synchronous: rows.map((r) => r.sync_state) };
  } finally {
    await client.end().catch(() => {});
  }
}

describe('percolator up', () => {
  it('starts shards and an oracle the client can use, and removes them on Ctrl-C', async () => {
    await upUntilCtrlC(['--shards', '2'], 2, async (shards) => {
      expect(shards).toHaveLength(2);
    });
  }, 90_000);

  it('refuses a bad shard count', async () => {
    await refused(['--shards', '0'], '--shards must be an integer from 1 to 16, got 0');
  });
});

describe('percolator up --replicas', () => {
  it('starts every shard with a synchronous standby, prints multi-host URLs the client uses, and removes everything on Ctrl-C', async () => {
    // Two primaries, two standbys, and the oracle's meta database on a server of its own.
    await upUntilCtrlC(['--shards', '2', '--replicas', '1'], 5, async (shards) => {
      expect(shards).toHaveLength(2);
      for (const url of shards) {
        const address = parseShardAddress(url);
        expect(address.hosts).toHaveLength(2);
        expect(address.target).toBe('read-write');
        expect(await roleOf(address.hostUrls[0]!)).toEqual({ standby: false, synchronous: ['quorum'] });
        expect(await roleOf(address.hostUrls[1]!)).toEqual({ standby: true, synchronous: [] });
      }
    });
  }, 90_000);

  it('refuses a bad replica count', async () => {
    await refused(['--replicas', '9'], '--replicas must be an integer from 0 to 4');
  });
});

/** The oracle's keys under the etcd URL's prefix (`etcd://h1:p1,h2:p2/prefix`), read with an etcd client of our own. */
async function oracleKeys(metaUrl: string): Promise<string[]> {
  const [, hosts, prefix] = /^etcd:\/\/([^/]+)(\/.*)$/.exec(metaUrl)!;
  const client = new Etcd3({ hosts: hosts!.split(',').map((h) => `http://${h}`) });
  try {
    return (await client.getAll().prefix(`${prefix}/`).keys()).map((k) => k.slice(prefix!.length + 1)).sort();
  } finally {
    client.close();
  }
}

describe.skipIf(!etcdBinary())('percolator up --meta', () => {
  it('etcd: starts a throwaway 3-member etcd cluster the oracle keeps its lease in, and removes it on Ctrl-C', async () => {
    await upUntilCtrlC(['--shards', '1', '--meta', 'etcd'], 1, async () => {}, {
      etcdMembers: 3,
      afterUse: async (meta) => {
        expect(meta).toMatch(/^etcd:\/\/127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+\/percolator\/oracle$/);
        expect(await oracleKeys(meta)).toEqual(expect.arrayContaining(['epoch', 'leader', 'limit']));
      },
    });
  }, 90_000);

  it('an etcd:// URL: the oracle uses that cluster, which is left running on Ctrl-C', async () => {
    const etcd = await EtcdCluster.start({ members: 3 });
    try {
      const url = etcd.url();
      await upUntilCtrlC(['--shards', '1', '--meta', url], 1, async () => {}, {
        afterUse: async (meta) => {
          expect(meta).toBe(url);
          expect(await oracleKeys(url)).toEqual(expect.arrayContaining(['epoch', 'leader', 'limit']));
        },
      });
      await etcd.waitHealthy(10_000);
      expect(await oracleKeys(url)).toEqual(expect.arrayContaining(['epoch', 'limit']));
    } finally {
      await etcd.destroy();
    }
  }, 90_000);

  it('refuses a store it does not know', async () => {
    await refused(['--meta', 'zookeeper://127.0.0.1:2181'], '--meta must be postgres, etcd, or an etcd://, etcds:// or postgres:// URL, got zookeeper://127.0.0.1:2181');
  });
});
