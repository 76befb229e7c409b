import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import type { OracleProcess } from '../../src/harness/oracle-process.js';
import { parseEtcdUrl } from '../../src/oracle/etcd-meta-store.js';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import { checkHistory, startHistoryClient } from './support/history.js';
import { useMetaServer } from './support/meta-server-fixture.js';

const LEASE = ['--lease', '1s'];

describe('oracle on etcd', () => {
  const meta = useMetaServer('etcd');

  async function pair(metaUrl: string): Promise<[leader: OracleProcess, standby: OracleProcess]> {
    const both = await Promise.all([0, 1].map(() => meta.oracle({ metaUrl, args: LEASE, standby: true })));
    await Promise.race(both.map((o) => o.waitForRole('leader', 15_000)));
    const leader = both.find((o) => o.role === 'leader')!;
    return [leader, both.find((o) => o !== leader)!];
  }

  it('1,000 callers keep strictly increasing, unique timestamps while the etcd leader and then the oracle leader are killed', async () => {
    const metaUrl = await meta.database();
    const [leader, standby] = await pair(metaUrl);
    const addresses = [leader.address, standby.address];
    const clients = [0, 1].map(() => startHistoryClient({ addresses, callers: 500, durationMs: 9000, maxCount: 20, deadlineMs: 15_000 }));
    await Promise.all(clients.map((c) => c.answered));
    await sleep(500);
    const etcdLeader = await meta.etcd.leaderIndex();
    const etcdKilledAtNs = process.hrtime.bigint();
    await meta.etcd.kill(etcdLeader);
    await sleep(2500); // etcd elects another leader; the oracle renews through it
    const oracleKilledAtNs = process.hrtime.bigint();
    await leader.kill('SIGKILL');
    await standby.waitForRole('leader', 15_000);
    const runs = await Promise.all(clients.map((c) => c.done));
    const records = runs.flatMap((run) => run.records);
    expect(checkHistory(records)).toEqual([]);
    // Served through both faults: between them by the first leader, after them by the second.
    expect(records.some((r) => r.sentNs > etcdKilledAtNs && r.receivedNs < oracleKilledAtNs)).toBe(true);
    expect(records.some((r) => r.sentNs > oracleKilledAtNs)).toBe(true);
    await meta.etcd.restart(etcdLeader);
  });

  it('a leader whose leader key is deleted behind its back steps down at its next renewal; the next term starts above it', async () => {
    const metaUrl = await meta.database();
    const oracle = await meta.oracle({ metaUrl, args: LEASE });
    const client = createOracleClient({ addresses: [oracle.address], deadlineMs: 15_000 });
    const { hosts, prefix } = parseEtcdUrl(metaUrl);
    const etcd = new Etcd3({ hosts });
    try {
      const before = await client.getTimestamp();
      const leaderKey = `${prefix}leader`;
      const epochOf = async (): Promise<string | null> => etcd.get(`${prefix}epoch`).string();
      expect(await epochOf()).toBe('1');
      await etcd.delete().key(leaderKey);
      await oracle.waitForRole('follower', 10_000); // fenced: its lease no longer owns the leader key
      await oracle.waitForRole('leader', 15_000); // and it campaigns again, under a new epoch
      expect(await epochOf()).toBe('2');
      expect(await client.getTimestamp()).toBeGreaterThan(before);
    } finally {
      etcd.close();
      await client.close();
    }
  });
});
