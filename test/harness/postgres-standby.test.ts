import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresServer } from '../../src/harness/postgres-server.js';
import { queryOnShards } from '../support/raw-shards.js';
import { alive, waitFor } from '../support/server-host.js';

/** One statement on one server: its rows. */
async function query<R extends Record<string, unknown> = Record<string, unknown>>(url: string, text: string): Promise<R[]> {
  return (await queryOnShards<R>([url], text))[0]!;
}

/** Until `check` holds (polling), or fails after `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The harness's standbys: made from a running primary, streaming synchronously, promoted with pg_ctl. */
describe('throwaway standbys', () => {
  let primary: PostgresServer;
  let standby: PostgresServer;

  beforeAll(async () => {
    primary = await PostgresServer.create({ unsafeFast: true });
    // Data written before the copy, and more while it streams.
    await query(primary.url, 'create table t (v int primary key); insert into t select generate_series(1, 1000)');
    standby = await primary.addStandby();
  });
  afterAll(async () => {
    await Promise.all([standby?.destroy(), primary?.destroy()]);
  });

  it('streams from the primary as its synchronous standby', async () => {
    expect(await standby.inRecovery()).toBe(true);
    expect(await primary.inRecovery()).toBe(false);
    const [replication] = await query<{ state: string; sync_state: string }>(primary.url, 'select state, sync_state from pg_stat_replication');
    expect(replication).toMatchObject({ state: 'streaming', sync_state: 'quorum' });
    const [settings] = await query<{ names: string; commit: string }>(
      primary.url,
      "select current_setting('synchronous_standby_names') as names, current_setting('synchronous_commit') as commit",
    );
    expect(settings!.names).toMatch(/^ANY 1 \(standby_[0-9a-f]+\)$/);
    expect(settings!.commit).toBe('on');
    // The same password as the primary's (a physical copy): the standby's URL works.
    expect(standby.url).not.toBe(primary.url);
    expect((await query<{ n: string }>(standby.url, 'select count(*) as n from t'))[0]!.n).toBe('1000');
    // A commit on the primary returned only once the standby had flushed it; it is applied soon after.
    await query(primary.url, 'insert into t values (1001)');
    await eventually(async () => (await query(standby.url, 'select 1 from t where v = 1001')).length === 1);
    // A standby refuses writes with SQLSTATE 25006 (what the client maps to ShardUnavailableError).
    await expect(query(standby.url, 'insert into t values (0)')).rejects.toMatchObject({ code: '25006' });
  });

  it('a multi-host URL names the primary first, then its standbys', () => {
    const url = primary.multiHostUrl([standby]);
    expect(url).toMatch(new RegExp(`@127\\.0\\.0\\.1:${primary.port},127\\.0\\.0\\.1:${standby.port}/postgres\\?target_session_attrs=read-write$`));
  });

  it('is promoted once the primary is killed, with every acknowledged commit, and takes writes', async () => {
    await query(primary.url, 'insert into t values (1002)');
    await primary.kill();
    expect(primary.running).toBe(false);
    await standby.promote();
    expect(await standby.inRecovery()).toBe(false);
    expect((await query<{ n: string }>(standby.url, 'select count(*) as n from t'))[0]!.n).toBe('1002');
    // The promoted server waits for no standby of its own.
    expect((await query<{ names: string }>(standby.url, "select current_setting('synchronous_standby_names') as names"))[0]!.names).toBe('');
    await query(standby.url, 'insert into t values (1003)');
  });

  it('goes with its data directory when destroyed', async () => {
    const dir = standby.dataDir;
    expect(existsSync(dir)).toBe(true);
    await standby.destroy();
    expect(existsSync(dir)).toBe(false);
  });
});

describe('a standby whose owner is killed outright', () => {
  it('is stopped and removed by its watchdog, like its primary', async () => {
    const harness = path.resolve(import.meta.dirname, '../../dist/src/harness/postgres-server.js');
    const script = `
      const { PostgresServer } = await import(${JSON.stringify(harness)});
      const primary = await PostgresServer.create({ unsafeFast: true });
      const standby = await primary.addStandby();
      console.log(JSON.stringify({ pids: [primary.pid, standby.pid], dirs: [primary.dataDir, standby.dataDir] }));
      setInterval(() => {}, 1000);
    `;
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    owner.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const line = (await createInterface({ input: owner.stdout })[Symbol.asyncIterator]().next()).value as string | undefined;
      expect(line, stderr).toBeDefined();
      const { pids, dirs } = JSON.parse(line!) as { pids: number[]; dirs: string[] };
      expect(pids.every(alive)).toBe(true);
      owner.kill('SIGKILL');
      expect(await waitFor(() => !pids.some(alive) && !dirs.some((d) => existsSync(d)), 15_000)).toBe(true);
    } finally {
      owner.kill('SIGKILL');
    }
  });
});
