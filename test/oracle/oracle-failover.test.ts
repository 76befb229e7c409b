import { ClientError, Status } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOracleProcess, type OracleProcess } from '../../src/harness/oracle-process.js';
import { PostgresServer } from '../../src/harness/postgres-server.js';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import { checkHistory, runHistoryClient } from './support/history.js';
import { createMetaDatabase } from './support/meta-database.js';
import { rawOracleClient } from './support/raw-client.js';

const LEASE = ['--lease', '1s'];

describe('oracle failover', () => {
  let meta: PostgresServer;
  const oracles: OracleProcess[] = [];
  beforeAll(async () => {
    meta = await PostgresServer.create({ unsafeFast: true });
  });
  afterAll(async () => {
    await Promise.all(oracles.map((o) => o.kill()));
    await meta?.destroy();
  });

  async function pair(): Promise<[OracleProcess, OracleProcess]> {
    const metaUrl = await createMetaDatabase(meta);
    const leader = await startOracleProcess({ metaUrl, args: LEASE });
    const standby = await startOracleProcess({ metaUrl, args: LEASE, standby: true });
    oracles.push(leader, standby);
    await standby.waitForRole('follower');
    return [leader, standby];
  }

  it('a standby names the leader instead of serving', async () => {
    const [leader, standby] = await pair();
    const { client, channel } = rawOracleClient(standby.address);
    try {
      const error = await client.getTimestamps({ count: 1 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClientError);
      expect((error as ClientError).code).toBe(Status.UNAVAILABLE);
      expect((error as ClientError).details).toContain(leader.address);
      const info = await client.getLeader({});
      expect(info).toMatchObject({ leaderAddress: leader.address, isLeader: false });
    } finally {
      channel.close();
    }
  });

  it('a standby takes over when the leader is killed while clients hammer it, and time never goes back', async () => {
    const [leader, standby] = await pair();
    const addresses = [leader.address, standby.address];
    const runs = Promise.all([0, 1].map(() => runHistoryClient({ addresses, callers: 20, durationMs: 5000, maxCount: 100 })));
    await new Promise((r) => setTimeout(r, 1000));
    await leader.kill('SIGKILL');
    await standby.waitForRole('leader', 8000);
    const records = (await runs).flatMap((run) => run.records);
    expect(checkHistory(records)).toEqual([]);
    // Clients kept getting timestamps after the takeover.
    const killedAtNs = records.reduce((m, r) => (r.receivedNs > m ? r.receivedNs : m), 0n);
    expect(records.filter((r) => r.receivedNs > killedAtNs - 1_000_000_000n).length).toBeGreaterThan(0);
  });

  it('a paused leader resumed after a takeover serves nothing until it leads again', async () => {
    const [leader, standby] = await pair();
    const addresses = [leader.address, standby.address];
    const { client: direct, channel } = rawOracleClient(leader.address);
    const client = createOracleClient({ addresses, deadlineMs: 10_000 });
    try {
      await direct.getLeader({}); // connect before the pause
      const history = runHistoryClient({ addresses, callers: 20, durationMs: 5000, maxCount: 100 });
      await new Promise((r) => setTimeout(r, 800));
      await leader.kill('SIGSTOP');
      await standby.waitForRole('leader', 8000);
      const afterTakeover = await client.getTimestamp();
      // Requests queued at the paused leader are read the moment it resumes, before any of its timers run.
      const queued = Array.from({ length: 20 }, () =>
        direct.getTimestamps({ count: 1 }).then(
          (r) => ({ ok: true as const, first: r.first }),
          (e: unknown) => ({ ok: false as const, code: (e as ClientError).code }),
        ),
      );
      await new Promise((r) => setTimeout(r, 200));
      await leader.kill('SIGCONT');
      const answers = await Promise.all(queued);
      expect(answers.filter((a) => a.ok)).toEqual([]);
      expect(new Set(answers.map((a) => (a.ok ? 'ok' : a.code)))).toEqual(new Set([Status.UNAVAILABLE]));
      await leader.waitForRole('follower', 5000);
      const records = (await history).records;
      expect(checkHistory(records)).toEqual([]);
      // The old leader can lead again once the new one is gone, and continues above everything.
      await standby.kill('SIGKILL');
      await leader.waitForRole('leader', 8000);
      expect(await client.getTimestamp()).toBeGreaterThan(afterTakeover);
    } finally {
      channel.close();
      await client.close();
    }
  });
});
