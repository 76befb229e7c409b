import { setTimeout as sleep } from 'node:timers/promises';
import { eq } from 'drizzle-orm';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { InvalidInputError, SnapshotTooOldError } from '../../src/errors.js';
import { physicalMs } from '../../src/timestamp.js';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { BANK_ACCOUNTS, BANK_INITIAL, bankTotal, transfer, withRetries } from '../support/bank.js';
import { accounts, accountsMeta } from '../support/bank-schema.js';
import { countOnShards } from '../support/raw-shards.js';
import { useBankEngines } from '../support/engine-fixture.js';
import { slotOf } from '../../src/shard/shard-of.js';

describe('version GC', () => {
  // Timers off unless a test says otherwise: runs are explicit (collectGarbage).
  const bank = useBankEngines(2, { gc: { lifetimeMs: 0, intervalMs: 3_600_000 } });
  const engine = bank.engine;
  // Retried: an earlier write's secondaries are committed in the background.
  const writeOwner = (e: TransactionEngine, id: number, owner: string): Promise<bigint> =>
    withRetries(async () => {
      const tx = await e.begin();
      tx.put(accountsMeta, [{ id, balance: BANK_INITIAL, owner }]);
      return (await tx.commit()).commitTs!;
    });
  const versionsOf = async (id: number): Promise<{ op: string; owner: string | null; commit_ts: string }[]> => {
    const shard = bank.engines[0]!.shardOf(accountsMeta, { id });
    const client = new pg.Client(bank.cluster.shardUrls[shard]!);
    await client.connect();
    try {
      return (await client.query('select op, owner, commit_ts::text from accounts__versions where id = $1 order by commit_ts', [id])).rows;
    } finally {
      await client.end();
    }
  };
  // The safe point is a whole millisecond (lifetime 0: the oracle's physical
  // time), and the oracle hands out many timestamps per millisecond: wait
  // until its clock has passed `ts`, or a version at `ts` may be above it.
  const passPhysicalMsOf = async (ts: bigint): Promise<void> => {
    while (physicalMs(await bank.tso.getTimestamp()) <= physicalMs(ts)) await sleep(1);
  };
  const puts = async (id: number): Promise<(string | null)[]> => (await versionsOf(id)).filter((v) => v.op === 'put').map((v) => v.owner);

  it('deletes what no read at or above the safe point can see, keeps the newest version and rollback markers, and fails older snapshots', async () => {
    const e = engine();
    const id = 3;
    await writeOwner(e, id, 'v1');
    const between = await bank.tso.getTimestamp();
    await writeOwner(e, id, 'v2');
    // A rollback marker (a rolled-back transaction's) among the old versions.
    const shard = e.shardOf(accountsMeta, { id });
    await countOnShards([bank.cluster.shardUrls[shard]!], `insert into accounts__versions (id, slot, commit_ts, start_ts, op) values (${id}, ${slotOf(accountsMeta, { id })}, ${between}, ${between}, 'rollback') returning 1 as n`);
    await writeOwner(e, id, 'v3');
    const old = await e.begin();
    const oldScan = await e.begin();
    await passPhysicalMsOf(oldScan.startTs);

    const run = await e.collectGarbage({ force: true });
    expect(run.shards.every((s) => s.deleted !== undefined && s.safePoint > old.startTs)).toBe(true);
    // seed + v1 + v2 are gone; v3 (the newest below the safe point) and the marker stay.
    expect(await puts(id)).toEqual(['v3']);
    expect((await versionsOf(id)).filter((v) => v.op === 'rollback').map((v) => v.commit_ts)).toContain(between.toString());
    const fresh = await e.begin();
    expect((await fresh.getMany(accountsMeta, [[id]]))[0]?.owner).toBe('v3');
    expect(await fresh.select(accountsMeta)).toHaveLength(BANK_ACCOUNTS);

    // Snapshots from before the run: a clear, retryable error, never a partial history.
    const error = await old.getMany(accountsMeta, [[id]]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SnapshotTooOldError);
    expect((error as SnapshotTooOldError).retryable).toBe(true);
    await expect(oldScan.select(accountsMeta)).rejects.toBeInstanceOf(SnapshotTooOldError);

    await writeOwner(e, id, 'v4');
    expect(await puts(id)).toEqual(['v3', 'v4']);
  });

  it('leaves the versions of the lifetime alone', async () => {
    const e = engine({ gc: { lifetimeMs: 60_000, intervalMs: 3_600_000 } });
    const id = 4;
    for (const owner of ['a', 'b', 'c']) await writeOwner(e, id, owner);
    await e.collectGarbage({ force: true });
    expect((await puts(id)).slice(-3)).toEqual(['a', 'b', 'c']);
  });

  it('runs once per interval between clients: a second client finds the shards collected', async () => {
    const [a, b] = [engine({ gc: { lifetimeMs: 0, intervalMs: 60_000 } }), engine({ gc: { lifetimeMs: 0, intervalMs: 60_000 } })];
    await writeOwner(a, 5, 'x');
    await a.collectGarbage({ force: true });
    const second = await b.collectGarbage();
    expect(second.shards.map((s) => s.deleted)).toEqual([undefined, undefined]);
  });

  it('keeps the bank consistent while collecting every 50 ms with a 200 ms lifetime', async () => {
    const e = engine({ gc: { lifetimeMs: 200, intervalMs: 50 } });
    // Runs for 2.5 s and at least 30 transfers (a loaded machine is slow), within 20 s.
    const stopAt = Date.now() + 2500;
    const hardStopAt = Date.now() + 20_000;
    let transfers = 0;
    const running = (): boolean => Date.now() < hardStopAt && (Date.now() < stopAt || transfers < 30);
    let audits = 0;
    let tooOld = 0;
    const worker = async (seed: number): Promise<void> => {
      for (let i = 0; running(); i++) {
        const from = (seed * 7 + i) % BANK_ACCOUNTS;
        const to = (from + 1 + (i % (BANK_ACCOUNTS - 1))) % BANK_ACCOUNTS;
        await withRetries(() => transfer(e, from, to, 1 + (i % 9)));
        transfers++;
      }
    };
    const auditor = async (): Promise<void> => {
      while (running()) {
        // A slow audit: begin, wait past the lifetime, then read. Either the GC
        // has not reached its snapshot (a consistent total) or it fails cleanly.
        const tx = await e.begin();
        await sleep(audits % 2 === 0 ? 0 : 500);
        try {
          const rows = await tx.select(accountsMeta);
          expect(rows.reduce((s, r) => s + (r.balance as number), 0)).toBe(BANK_ACCOUNTS * BANK_INITIAL);
          audits++;
        } catch (error) {
          if (!(error instanceof SnapshotTooOldError)) throw error;
          tooOld++;
          audits++;
        }
      }
    };
    await Promise.all([worker(1), worker(2), worker(3), auditor()]);
    expect(transfers).toBeGreaterThan(20);
    expect(tooOld).toBeGreaterThan(0);
    expect(await bankTotal(e)).toEqual({ total: BANK_ACCOUNTS * BANK_INITIAL, count: BANK_ACCOUNTS });
    // Collected as it went: far fewer versions than writes.
    const versions = (await countOnShards(bank.cluster.shardUrls, `select count(*) as n from accounts__versions where op = 'put'`)).reduce((a, b) => a + b, 0);
    expect(versions).toBeLessThan(BANK_ACCOUNTS + transfers);
  }, 30_000);

  it('rolls forward a committed transaction\'s leftover secondary before deleting its primary\'s version (it would be rolled back otherwise)', async () => {
    const crashing = engine({ lockTtlMs: 200, hooks: { afterCommitPrimary: () => Promise.reject(new Error('crashed after the commit point')) } });
    const collector = engine();
    const a = 8;
    const b = [9, 10, 11].find((id) => crashing.shardOf(accountsMeta, { id }) !== crashing.shardOf(accountsMeta, { id: a }))!;
    const tx = await withRetries(async () => {
      const t = await crashing.begin();
      t.put(accountsMeta, [a, b].map((id) => ({ id, balance: BANK_INITIAL, owner: 'committed' })));
      const failure = await t.commit().then(() => undefined, (error: unknown) => error);
      if (!String(failure).includes('crashed after the commit point')) throw failure;
      return t;
    });
    // The secondary keeps its lock; overwrite the primary so that GC may delete the version that decides it.
    const [primary, secondary] = (await countOnShards([bank.cluster.shardUrls[crashing.shardOf(accountsMeta, { id: a })]!], `select count(*) as n from accounts__locks where id = ${a}`))[0] ? [b, a] : [a, b];
    await passPhysicalMsOf(await writeOwner(collector, primary, 'overwritten'));
    await collector.collectGarbage({ force: true });
    expect((await versionsOf(secondary)).some((v) => v.op === 'put' && v.owner === 'committed')).toBe(true);
    await sleep(300); // past the lock's TTL: a reader would now decide it by its primary alone
    const reader = await engine().begin();
    expect((await reader.getMany(accountsMeta, [[secondary]]))[0]?.owner).toBe('committed');
    expect(await countOnShards(bank.cluster.shardUrls, `select count(*) as n from accounts__locks where start_ts = ${tx.startTs}`)).toEqual([0, 0]);
  });

  it('fails a serializable commit whose validation window GC may have emptied (SnapshotTooOldError), not commit it', async () => {
    const e = engine();
    const t = await e.begin({ isolation: 'serializable' });
    expect(await t.select(accountsMeta, { where: eq(accounts.owner, 'scanned') })).toHaveLength(0);
    // Account 1 moves into the scanned set and out again; GC then removes the first of the two versions.
    for (const owner of ['scanned', 'elsewhere']) await passPhysicalMsOf(await writeOwner(e, 1, owner));
    // Until every shard was collected: a run skips a shard whose GC lock another engine's timer holds.
    while ((await e.collectGarbage({ force: true })).shards.some((shard) => shard.deleted === undefined)) await sleep(20);
    t.put(accountsMeta, [{ id: 2, balance: BANK_INITIAL, owner: 'skew' }]);
    await expect(t.commit()).rejects.toBeInstanceOf(SnapshotTooOldError);
  });

  it('refuses nonsense settings', () => {
    expect(() => engine({ gc: { lifetimeMs: -1 } })).toThrow(InvalidInputError);
    expect(() => engine({ gc: { intervalMs: 0 } })).toThrow(InvalidInputError);
  });
});
