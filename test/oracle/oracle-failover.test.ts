import { setTimeout as sleep } from 'node:timers/promises';
import { ClientError, Status } from 'nice-grpc';
import { describe, expect, it } from 'vitest';
import type { OracleProcess } from '../../src/harness/oracle-process.js';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import { checkHistory, startHistoryClient } from './support/history.js';
import { META_BACKENDS, useMetaServer } from './support/meta-server-fixture.js';
import { rawOracleClient } from './support/raw-client.js';

const LEASE = ['--lease', '1s'];

describe.each(META_BACKENDS)('oracle failover (meta store: %s)', (backend) => {
  const meta = useMetaServer(backend);

  /** Two oracle processes started together against one meta database: whichever wins the lease leads. */
  async function pair(): Promise<[leader: OracleProcess, standby: OracleProcess]> {
    const metaUrl = await meta.database();
    const both = await Promise.all([0, 1].map(() => meta.oracle({ metaUrl, args: LEASE, standby: true })));
    await Promise.race(both.map((o) => o.waitForRole('leader', 10_000)));
    const leader = both.find((o) => o.role === 'leader')!;
    const standby = both.find((o) => o !== leader)!;
    await standby.waitForRole('follower');
    // 'follower' is reported as soon as it listens: wait until its campaign has read who leads.
    const { client, channel } = rawOracleClient(standby.address);
    try {
      for (const giveUpAt = Date.now() + 10_000; (await client.getLeader({})).leaderAddress !== leader.address; ) {
        if (Date.now() > giveUpAt) throw new Error('the standby never named the leader');
        await sleep(20);
      }
    } finally {
      channel.close();
    }
    return [leader, standby];
  }

  it('a standby names the leader; it takes over when the leader is killed while clients hammer it, and time never goes back', async () => {
    const [leader, standby] = await pair();
    const { client, channel } = rawOracleClient(standby.address);
    try {
      const error = await client.getTimestamps({ count: 1 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClientError);
      expect((error as ClientError).code).toBe(Status.UNAVAILABLE);
      expect((error as ClientError).details).toContain(leader.address);
      expect(await client.getLeader({})).toMatchObject({ leaderAddress: leader.address, isLeader: false });
    } finally {
      channel.close();
    }

    const addresses = [leader.address, standby.address];
    const clients = [0, 1].map(() => startHistoryClient({ addresses, callers: 20, durationMs: 4000, maxCount: 100 }));
    await Promise.all(clients.map((c) => c.answered));
    await sleep(300);
    const killedAtNs = process.hrtime.bigint(); // CLOCK_MONOTONIC, the clock the client processes record with
    await leader.kill('SIGKILL');
    await standby.waitForRole('leader', 8000); // takes over within a few seconds
    const records = (await Promise.all(clients.map((c) => c.done))).flatMap((run) => run.records);
    expect(checkHistory(records)).toEqual([]);
    // Calls made after the kill were answered (by the new leader), above everything answered before.
    expect(records.filter((r) => r.sentNs > killedAtNs).length).toBeGreaterThan(0);
    expect(records.filter((r) => r.receivedNs < killedAtNs).length).toBeGreaterThan(0);
  });

  it('a paused leader resumed after a takeover serves nothing until it leads again', async () => {
    const [leader, standby] = await pair();
    const addresses = [leader.address, standby.address];
    const { client: direct, channel } = rawOracleClient(leader.address);
    const client = createOracleClient({ addresses, deadlineMs: 10_000 });
    try {
      await direct.getLeader({}); // connect before the pause
      const history = startHistoryClient({ addresses, callers: 20, durationMs: 4000, maxCount: 100 });
      await history.answered;
      await sleep(300);
      const pausedAtNs = process.hrtime.bigint();
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
      await sleep(200);
      await leader.kill('SIGCONT');
      const answers = await Promise.all(queued);
      expect(answers.filter((a) => a.ok)).toEqual([]);
      expect(new Set(answers.map((a) => (a.ok ? 'ok' : a.code)))).toEqual(new Set([Status.UNAVAILABLE]));
      await leader.waitForRole('follower', 5000);
      const records = (await history.done).records;
      expect(checkHistory(records)).toEqual([]);
      expect(records.filter((r) => r.receivedNs < pausedAtNs).length).toBeGreaterThan(0);
      expect(records.filter((r) => r.sentNs > pausedAtNs).length).toBeGreaterThan(0);
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
