import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import { META_BACKENDS, useMetaServer } from './support/meta-server-fixture.js';
import { rawOracleClient } from './support/raw-client.js';

describe('the Postgres meta table refuses to go back', () => {
  const meta = useMetaServer('postgres');

  it('the meta table refuses a lower timestamp limit or epoch, and deleting the row', async () => {
    const metaUrl = await meta.database();
    const oracle = await meta.oracle({ metaUrl, args: ['--lease', '1s'] });
    const sql = new pg.Client(metaUrl);
    await sql.connect();
    try {
      const before = (await sql.query('SELECT epoch, timestamp_limit FROM percolator_oracle_lease')).rows[0];
      await expect(sql.query('UPDATE percolator_oracle_lease SET timestamp_limit = 0')).rejects.toThrow(/timestamp_limit may not decrease/);
      await expect(sql.query('UPDATE percolator_oracle_lease SET timestamp_limit = timestamp_limit - 1')).rejects.toThrow(/timestamp_limit may not decrease/);
      await expect(sql.query('UPDATE percolator_oracle_lease SET epoch = epoch - 1')).rejects.toThrow(/epoch may not decrease/);
      await expect(sql.query('DELETE FROM percolator_oracle_lease')).rejects.toThrow(/may not be deleted/);
      await expect(sql.query('TRUNCATE percolator_oracle_lease')).rejects.toThrow(/may not be deleted/);
      const after = (await sql.query('SELECT epoch, timestamp_limit FROM percolator_oracle_lease')).rows[0];
      expect(after.epoch).toBe(before.epoch);
      expect(BigInt(after.timestamp_limit)).toBeGreaterThanOrEqual(BigInt(before.timestamp_limit));
      // Raising stays allowed (the oracle renews all the time), and the oracle keeps serving.
      await sql.query('UPDATE percolator_oracle_lease SET timestamp_limit = timestamp_limit + 1');
      const client = createOracleClient({ addresses: [oracle.address] });
      try {
        expect(await client.getTimestamp()).toBeGreaterThan(0n);
      } finally {
        await client.close();
      }
    } finally {
      await sql.end();
    }
  });

});

describe.each(META_BACKENDS)('clients do not trust a stale leader (meta store: %s)', (backend) => {
  const meta = useMetaServer(backend);

  it('a client that has seen epoch 2 ignores a follower naming the epoch-1 leader', async () => {
    const metaUrl = await meta.database();
    const a = await meta.oracle({ metaUrl, args: ['--lease', '1s'] });
    // A standby with a long lease polls the lease row only every lease / 6 = 20 s: between polls it
    // keeps naming the leader it last read, so its hint goes stale once another leader takes over.
    const x = await meta.oracle({ metaUrl, standby: true, args: ['--lease', '120s'] });
    const raw = rawOracleClient(x.address);
    try {
      for (let i = 0; ; i++) {
        const leader = await raw.client.getLeader({});
        if (leader.leaderAddress === a.address && leader.epoch === 1n) break;
        if (i > 100) throw new Error(`standby never named the first leader: ${JSON.stringify(leader, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
        await sleep(50);
      }
    } finally {
      raw.channel.close();
    }
    await a.kill('SIGKILL');
    const b = await meta.oracle({ metaUrl, args: ['--lease', '1s'] });

    const records: Array<{ msg?: string; address?: string; hint?: string }> = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void records.push(JSON.parse(line)) });
    const client = createOracleClient({ addresses: [b.address, x.address], attemptTimeoutMs: 300, deadlineMs: 10_000, logger });
    try {
      const first = await client.getTimestamp(); // from b, epoch 2
      // b stops answering for a moment: the client moves on to x, which names a (epoch 1).
      await b.kill('SIGSTOP');
      const resume = setTimeout(() => void b.kill('SIGCONT'), 700);
      const second = await client.getTimestamp().finally(() => clearTimeout(resume));
      await b.kill('SIGCONT');
      expect(second).toBeGreaterThan(first);
      expect(records.some((r) => r.msg === 'oracle attempt failed' && r.address === x.address && r.hint === a.address)).toBe(true);
      expect(records.filter((r) => r.address === a.address)).toEqual([]);
      expect(records.some((r) => r.msg === 'ignoring a stale leader hint' && r.hint === a.address)).toBe(true);
    } finally {
      await client.close();
    }
  });
});
