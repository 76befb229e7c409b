import { eq, inArray } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError, ShardUnavailableError } from '../../src/errors.js';
import { startOracleProcess, type OracleProcess } from '../../src/harness/oracle-process.js';
import { PostgresCluster } from '../../src/harness/postgres-cluster.js';
import { PostgresServer } from '../../src/harness/postgres-server.js';
import { percolator, type Database } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import { ShardPool } from '../../src/shard/shard-pool.js';
import { StandbyPools } from '../../src/txn/standby-pools.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import { isRetryable } from '../../src/errors.js';
import { accounts, accountsMeta } from '../support/bank-schema.js';
import { connectToShard } from '../../src/shard/shard-primary.js';

const SHARDS = 2;
const IDS = [0, 1, 2, 3, 4, 5, 6, 7];
const schema = { accounts };

/** Runs `sql` on every standby (as the superuser the harness made). */
async function onStandbys(cluster: PostgresCluster, sql: string): Promise<void> {
  for (const standby of cluster.standbys.flat()) {
    const client = new pg.Client(standby.url);
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }
}

/** Locks in the accounts table of a shard (on its primary). */
async function locksOn(url: string): Promise<number> {
  const client = await connectToShard(url, { connectionTimeoutMillis: 5000 });
  try {
    return Number((await client.query<{ n: string }>('select count(*) as n from accounts__locks')).rows[0]!.n);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Settles with the promise's outcome, or 'pending' if it has not settled after `ms`. */
const settledWithin = <T>(promise: Promise<T>, ms: number): Promise<'pending' | 'settled'> =>
  Promise.race([promise.then(() => 'settled' as const, () => 'settled' as const), new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);

/**
 * db.asOf(ts, { standby: true }) on shards that are primaries with a
 * synchronous standby each: a read runs on a standby only once its replay
 * has passed what the primary had committed, and locks met there are
 * decided by the primaries.
 */
describe('asOf reads served by standbys', () => {
  let cluster: PostgresCluster;
  let oracleDatabase: PostgresServer;
  let oracle: OracleProcess;
  let db: Database<typeof schema>;

  beforeAll(async () => {
    [cluster, oracleDatabase] = await Promise.all([PostgresCluster.start(SHARDS, { unsafeFast: true, replicas: 1 }), PostgresServer.create({ unsafeFast: true })]);
    oracle = await startOracleProcess({ metaUrl: oracleDatabase.url });
    db = await percolator({ oracle: [oracle.address], shards: cluster.urls, schema, lockTtlMs: 1000 });
    await db.migrate();
    await db.insert(accounts).values(IDS.map((id) => ({ id, balance: 100, owner: 'first' })));
  });
  afterAll(async () => {
    await onStandbys(cluster, 'select pg_wal_replay_resume()').catch(() => {});
    await db?.close();
    await oracle?.kill('SIGKILL').catch(() => {});
    await Promise.all([cluster?.destroy(), oracleDatabase?.destroy()]);
  });

  it('waits for the standbys to replay past the primaries, then reads the snapshot at ts there (and an older one)', async () => {
    const before = await db.currentTimestamp();
    // Replay stops on the standbys: they still receive and flush the WAL (so synchronous commits return), but show nothing new.
    await onStandbys(cluster, 'select pg_wal_replay_pause()');
    try {
      await db.update(accounts).set({ balance: 200, owner: 'second' }).where(inArray(accounts.id, IDS));
      const ts = await db.currentTimestamp();
      const read = db.asOf(ts, { standby: true }).select().from(accounts);
      // Read on a primary this would return at once; on a standby that has not replayed the update, it must not return.
      expect(await settledWithin(read, 1000)).toBe('pending');
      // With a short wait, no standby catches up in time: a retryable ShardUnavailableError.
      const impatient = await percolator({ oracle: [oracle.address], schema, lockWaitTimeoutMs: 200, maxRetries: 0 });
      try {
        await expect(impatient.asOf(ts, { standby: true }).select().from(accounts)).rejects.toBeInstanceOf(ShardUnavailableError);
      } finally {
        await impatient.close();
      }
      await onStandbys(cluster, 'select pg_wal_replay_resume()');
      expect((await read).sort((a, b) => a.id - b.id)).toEqual(IDS.map((id) => ({ id, balance: 200, owner: 'second' })));
    } finally {
      await onStandbys(cluster, 'select pg_wal_replay_resume()');
    }
    const older = await db.asOf(before, { standby: true }).select().from(accounts);
    expect(older.sort((a, b) => a.id - b.id)).toEqual(IDS.map((id) => ({ id, balance: 100, owner: 'first' })));
  });

  it('a lock met on a standby is decided by its primary: a transaction committed at its primary before ts is read', async () => {
    // A writer that dies just after its commit point: its secondary stays a lock, on the shard's primary and (replayed) its standby.
    const tso = createOracleClient({ addresses: [oracle.address] });
    const crashing = createTransactionEngine({
      shards: cluster.urls,
      timestampSource: tso,
      lockTtlMs: 60_000,
      hooks: { afterCommitPrimary: () => Promise.reject(new Error('crashed after the commit point')) },
    });
    crashing.register([accountsMeta]);
    try {
      const [a, b] = [IDS[0]!, IDS.find((id) => crashing.shardOf(accountsMeta, { id }) !== crashing.shardOf(accountsMeta, { id: IDS[0]! }))!];
      const tx = await crashing.begin();
      tx.put(accountsMeta, [a, b].map((id) => ({ id, balance: 300, owner: 'crashed' })));
      await expect(tx.commit()).rejects.toThrow('crashed after the commit point');
      const locked = await Promise.all(cluster.urls.map((url) => locksOn(url)));
      expect(locked.reduce((x, y) => x + y, 0)).toBe(1);

      const ts = await db.currentTimestamp();
      const rows = await db.asOf(ts, { standby: true }).select().from(accounts).where(inArray(accounts.id, [a, b]));
      expect(rows.sort((x, y) => x.id - y.id)).toEqual([a, b].sort((x, y) => x - y).map((id) => ({ id, balance: 300, owner: 'crashed' })));
      // Rolled forward on the primary (a standby cannot be written).
      expect(await Promise.all(cluster.urls.map((url) => locksOn(url)))).toEqual([0, 0]);
    } finally {
      await crashing.close();
      await tso.close();
    }
  });

  it('under concurrent transfers in both isolation levels, on standbys that lag, every snapshot keeps the total and holds every transfer acknowledged before ts', async () => {
    const WORKERS = 6;
    const counterOf = (w: number): number => 100 + w;
    await db.insert(accounts).values(Array.from({ length: WORKERS }, (_, w) => ({ id: counterOf(w), balance: 0, owner: 'counter' })));
    const rows = await db.select().from(accounts).where(inArray(accounts.id, IDS));
    const total = rows.reduce((sum, r) => sum + r.balance, 0);
    // Each worker's transfers acknowledged so far: its counter row, written by each transfer, is at least that.
    const acked = Array.from({ length: WORKERS }, () => 0);
    let stop = false;
    const worker = async (w: number): Promise<void> => {
      const isolation = w % 2 === 0 ? 'snapshot' : 'serializable';
      for (let i = 0; !stop; i++) {
        const [from, to] = [IDS[(w + i) % IDS.length]!, IDS[(w * 3 + i * 5 + 1) % IDS.length]!];
        if (from === to) continue;
        try {
          await db.transaction(
            async (tx) => {
              const [a] = await tx.select().from(accounts).where(eq(accounts.id, from));
              const [b] = await tx.select().from(accounts).where(eq(accounts.id, to));
              const [c] = await tx.select().from(accounts).where(eq(accounts.id, counterOf(w)));
              await tx.update(accounts).set({ balance: a!.balance - 1 }).where(eq(accounts.id, from));
              await tx.update(accounts).set({ balance: b!.balance + 1 }).where(eq(accounts.id, to));
              await tx.update(accounts).set({ balance: c!.balance + 1 }).where(eq(accounts.id, counterOf(w)));
            },
            { isolation },
          );
          acked[w]! += 1;
        } catch (error) {
          if (!isRetryable(error)) throw error;
        }
      }
    };
    // The standbys apply each commit 20 ms after it was made (they still flush the WAL at once, so commits return).
    await onStandbys(cluster, "alter system set recovery_min_apply_delay = '20ms'");
    await onStandbys(cluster, 'select pg_reload_conf()');
    const load = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    try {
      let reads = 0;
      for (const end = Date.now() + 5000; Date.now() < end || reads < 10; reads++) {
        const floor = [...acked];
        const ts = await db.currentTimestamp();
        const seen = await db.asOf(ts, { standby: true }).select().from(accounts);
        const balance = (id: number): number => seen.find((r) => r.id === id)!.balance;
        expect(IDS.reduce((sum, id) => sum + balance(id), 0)).toBe(total);
        for (let w = 0; w < WORKERS; w++) expect(balance(counterOf(w))).toBeGreaterThanOrEqual(floor[w]!);
      }
    } finally {
      stop = true;
      await load;
      await onStandbys(cluster, 'alter system reset recovery_min_apply_delay');
      await onStandbys(cluster, 'select pg_reload_conf()');
    }
    expect(acked.reduce((a, b) => a + b, 0)).toBeGreaterThan(10);
  });

  it('refuses a shard with one host (no standby named)', async () => {
    const single = new ShardPool(0, cluster.servers[0]!.url, silentLogger);
    const standbys = new StandbyPools((index, url) => new ShardPool(index, url, silentLogger), silentLogger);
    try {
      await expect(standbys.caughtUp(single, 1000)).rejects.toBeInstanceOf(InvalidInputError);
    } finally {
      await Promise.all([single.close(), standbys.close()]);
    }
  });
});
