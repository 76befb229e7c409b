import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OracleUnavailableError, ShardUnavailableError } from '../../src/errors.js';
import { NetworkPartition, partitionsUnavailable, portOf } from '../../src/harness/network-partition.js';
import type { OracleProcess } from '../../src/harness/oracle-process.js';
import { PostgresCluster } from '../../src/harness/postgres-cluster.js';
import { percolator } from '../../src/index.js';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import { META_BACKENDS, useMetaServer, type MetaServer } from '../oracle/support/meta-server-fixture.js';
import { checkHistory, startHistoryClient } from '../oracle/support/history.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';
import { bankSchema, checkLedger, ledgerTransfer, newLedgerRun, readBank, resolveAllLocks, seedLedgerBank, type BankDb, type LedgerRun } from '../support/bank-ledger.js';
import { startDelayRelays, type DelayRelays } from '../../bench/delay-relays.js';

const unavailable = await partitionsUnavailable();
if (unavailable) console.warn(`network partition tests skipped: ${unavailable}`);

const ACCOUNTS = 16;
const LOCK_TTL_MS = 1000;

/** Polls until `done()` (true), or `ms` have passed (false). */
async function until(done: () => boolean, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; !done() && Date.now() < deadline; ) await sleep(50);
  return done();
}

/** Transfers from `clients` concurrent callers until `stop()`; `longestMs` is the longest a single transaction call took to settle. */
function startTransfers(db: BankDb, run: LedgerRun, clients: number, prefix: string) {
  let stopped = false;
  let longestMs = 0;
  const done = Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; !stopped; i++) {
        const startedAt = Date.now();
        await ledgerTransfer(db, run, `${prefix}${c}-${i}`, ACCOUNTS); // throws on anything but a typed error
        longestMs = Math.max(longestMs, Date.now() - startedAt);
      }
    }),
  );
  return {
    done,
    get longestMs() {
      return longestMs;
    },
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/** Two oracle processes on one meta store; returns [leader, standby]. */
async function oraclePair(meta: MetaServer): Promise<[OracleProcess, OracleProcess]> {
  const metaUrl = await meta.database();
  const both = await Promise.all([0, 1].map(() => meta.oracle({ metaUrl, args: ['--lease', '1s'], standby: true })));
  await Promise.race(both.map((o) => o.waitForRole('leader', 15_000)));
  const leader = both.find((o) => o.role === 'leader')!;
  return [leader, both.find((o) => o !== leader)!];
}

describe.skipIf(unavailable !== undefined)('a shard cut off by a network partition', () => {
  const meta = useMetaServer('postgres');
  let shards: PostgresCluster;
  let db: BankDb;
  let partition: NetworkPartition;

  beforeAll(async () => {
    shards = await PostgresCluster.start(3, { unsafeFast: true });
    const oracle = await meta.oracle();
    partition = await NetworkPartition.create();
    // Short statement deadlines: a statement to the cut shard gets no answer, and must end in a typed error, not a hang.
    db = await percolator({
      oracle: [oracle.address],
      shards: shards.urls,
      schema: bankSchema,
      lockTtlMs: LOCK_TTL_MS,
      maxRetries: 2,
      pool: { statementTimeoutMs: 1500, connectTimeoutMs: 1000 },
    });
    await db.migrate();
    await seedLedgerBank(db, ACCOUNTS);
  });
  afterAll(async () => {
    await partition?.destroy();
    await db?.close();
    await shards?.destroy();
  });

  it('transfers meet typed errors while it is cut, go on once healed, and lose no acknowledged commit nor leave a lock', async () => {
    const run = newLedgerRun();
    const load = startTransfers(db, run, 8, 'p');
    try {
      expect(await until(() => run.acked.length >= 20, 20_000)).toBe(true);
      await partition.isolate(shards.servers[1]!.port);
      const cutAt = Date.now();
      await sleep(3000);
      await partition.heal();
      const healedAt = Date.now();
      expect(await until(() => run.acked.filter((a) => a.at > healedAt).length >= 20, 30_000)).toBe(true);
      await load.stop();
      console.info(
        `partitioned shard: ${run.acked.length} acknowledged (${run.acked.filter((a) => a.at > cutAt && a.at < healedAt).length} while cut), ` +
          `${run.undetermined.size} undetermined, errors ${JSON.stringify(Object.fromEntries(run.errors))}`,
      );
      // The cut was met: statements to the shard failed as unavailable (retried by db.transaction, or surfaced),
      // and only typed errors reached the callers (ledgerTransfer throws on others).
      const retries = (await db.registry.getSingleMetric('percolator_retries_total')!.get()).values;
      const unavailable = retries.filter((v) => v.labels.cause === 'SHARD_UNAVAILABLE').reduce((sum, v) => sum + v.value, 0);
      expect(unavailable + (run.errors.get('SHARD_UNAVAILABLE') ?? 0) + run.undetermined.size).toBeGreaterThan(0);
    } finally {
      await partition.heal();
      await load.stop().catch(() => {});
    }
    checkLedger(await readBank(db), [run]);
    await sleep(LOCK_TTL_MS + 200);
    expect(await resolveAllLocks(db, shards.urls, ACCOUNTS)).toBe(0);
  });
});

describe.skipIf(unavailable !== undefined)('a shard on a lossy or slow link', () => {
  const meta = useMetaServer('postgres');
  const DEADLINES = { statementTimeoutMs: 1500, connectTimeoutMs: 1000, lockWaitTimeoutMs: 1000, maxRetries: 2 };
  // Not a performance bar: the longest a call can take if every statement of every attempt runs into its deadline (about six per attempt), plus slack.
  const SETTLE_BOUND_MS = (DEADLINES.maxRetries + 1) * (6 * (DEADLINES.statementTimeoutMs + DEADLINES.connectTimeoutMs) + DEADLINES.lockWaitTimeoutMs) + 5000;
  let shards: PostgresCluster;
  let oracleAddress: string;
  let db: BankDb;

  const open = (urls: string[]) =>
    percolator({
      oracle: [oracleAddress],
      shards: urls,
      schema: bankSchema,
      lockTtlMs: LOCK_TTL_MS,
      lockWaitTimeoutMs: DEADLINES.lockWaitTimeoutMs,
      maxRetries: DEADLINES.maxRetries,
      pool: { statementTimeoutMs: DEADLINES.statementTimeoutMs, connectTimeoutMs: DEADLINES.connectTimeoutMs },
    });

  beforeAll(async () => {
    shards = await PostgresCluster.start(3, { unsafeFast: true });
    oracleAddress = (await meta.oracle()).address;
    db = await open(shards.urls);
    await db.migrate();
    await seedLedgerBank(db, ACCOUNTS);
  });
  afterAll(async () => {
    await db?.close();
    await shards?.destroy();
  });

  it('transfers meet only typed errors within their deadlines while one shard loses a quarter of its packets, and recover once it stops', { timeout: 180_000 }, async () => {
    const partition = await NetworkPartition.create();
    const run = newLedgerRun();
    const load = startTransfers(db, run, 8, 'l');
    try {
      expect(await until(() => run.acked.length >= 20, 20_000)).toBe(true);
      await partition.lose(25, shards.servers[1]!.port);
      const lossAt = Date.now();
      await sleep(4000);
      await partition.heal();
      const healedAt = Date.now();
      const lostWhileLossy = await partition.lostSegments();
      expect(await until(() => run.acked.filter((a) => a.at > healedAt).length >= 20, 30_000)).toBe(true);
      await load.stop();
      console.info(
        `lossy shard: ${lostWhileLossy} segments dropped, ${run.acked.length} acknowledged (${run.acked.filter((a) => a.at > lossAt && a.at < healedAt).length} while lossy), ` +
          `${run.undetermined.size} undetermined, errors ${JSON.stringify(Object.fromEntries(run.errors))}, longest call ${load.longestMs} ms`,
      );
      expect(lostWhileLossy).toBeGreaterThan(0); // the loss bit
      expect(await partition.lostSegments()).toBe(lostWhileLossy); // and stopped when healed
      expect(load.longestMs).toBeLessThan(SETTLE_BOUND_MS);
    } finally {
      await partition.destroy();
      await load.stop().catch(() => {});
    }
    checkLedger(await readBank(db), [run]);
    await sleep(LOCK_TTL_MS + 200);
    expect(await resolveAllLocks(db, shards.urls, ACCOUNTS)).toBe(0);
  });

  it('transfers through a 50 ms round trip to one shard succeed, and the bank still checks out', { timeout: 120_000 }, async () => {
    // A cluster of its own, created through the relay: the oracle's placement map records the relay's URL for that shard,
    // and clients go where the map says (a relay URL given to a client of an existing cluster would be ignored).
    const own = await PostgresCluster.start(2, { unsafeFast: true });
    const relays: DelayRelays = await startDelayRelays([{ host: '127.0.0.1', port: own.servers[1]!.port }], 50);
    const urls = own.urls.map((url, i) => (i === 1 ? Object.assign(new URL(url), { port: String(relays.ports[0]) }).toString() : url));
    const slowDb = await open(urls);
    const run = newLedgerRun();
    try {
      await slowDb.migrate();
      await seedLedgerBank(slowDb, ACCOUNTS);
      const load = startTransfers(slowDb, run, 8, 'd');
      const reached = await until(() => run.acked.length >= 40, 60_000);
      await load.stop();
      console.info(`slow shard: ${run.acked.length} acknowledged, errors ${JSON.stringify(Object.fromEntries(run.errors))}, longest call ${load.longestMs} ms`);
      expect(reached).toBe(true);
      // A delay is not a fault: nothing timed out or was left undetermined.
      expect(run.undetermined.size).toBe(0);
      expect(run.errors.get('SHARD_UNAVAILABLE') ?? 0).toBe(0);
      checkLedger(await readBank(slowDb), [run]);
      expect(await resolveAllLocks(slowDb, own.urls, ACCOUNTS)).toBe(0);
      await relays.close();
      // It was the relay that carried that shard's traffic: without it the shard is unreachable.
      await expect(readBank(slowDb)).rejects.toBeInstanceOf(ShardUnavailableError);
    } finally {
      await slowDb.close();
      await relays.close();
      await own.destroy();
    }
  });
});

describe.skipIf(unavailable !== undefined)('an oracle leader cut off from its clients', () => {
  const meta = useMetaServer('postgres');

  it('callers get OracleUnavailableError within their deadline, and timestamps above everything once healed', async () => {
    const [leader, standby] = await oraclePair(meta);
    const partition = await NetworkPartition.create();
    const client = createOracleClient({ addresses: [leader.address, standby.address], deadlineMs: 2000, attemptTimeoutMs: 500 });
    try {
      const before = await client.getTimestamp();
      await partition.isolate(portOf(leader.address));
      // The leader still holds its lease (it reaches its meta store): the standby names it, nobody serves these clients.
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => client.getTimestamp()));
      for (const result of results) {
        expect(result.status).toBe('rejected');
        expect((result as PromiseRejectedResult).reason).toBeInstanceOf(OracleUnavailableError);
      }
      await partition.heal();
      expect(await client.getTimestamp()).toBeGreaterThan(before);
    } finally {
      await partition.destroy();
      await client.close();
    }
  });
});

/** One oracle's own path to the meta store: a relay per store port (so that it alone can be cut off), and the meta URL through them. */
async function relayedMetaUrl(meta: MetaServer, metaUrl: string, relays: TcpRelay[]): Promise<{ url: string; ports: number[] }> {
  if (meta.backend === 'etcd') {
    const own = await Promise.all(meta.etcd.members.map((m) => startTcpRelay({ host: '127.0.0.1', port: m.clientPort })));
    relays.push(...own);
    const prefix = metaUrl.slice(metaUrl.indexOf('/', 'etcd://'.length));
    return { url: `etcd://${own.map((r) => `127.0.0.1:${r.port}`).join(',')}${prefix}`, ports: own.map((r) => r.port) };
  }
  const url = new URL(metaUrl);
  const relay = await startTcpRelay({ host: url.hostname, port: Number(url.port) });
  relays.push(relay);
  url.port = String(relay.port);
  return { url: url.toString(), ports: [relay.port] };
}

describe.skipIf(unavailable !== undefined).each(META_BACKENDS)('an oracle leader cut off from its clients and its meta store (%s)', (backend) => {
  const meta = useMetaServer(backend);

  it('the standby takes over and clients follow it; the cut-off leader serves nothing more and steps down once healed', async () => {
    const metaUrl = await meta.database();
    const relays: TcpRelay[] = [];
    const partition = await NetworkPartition.create();
    try {
      const paths = await Promise.all([0, 1].map(() => relayedMetaUrl(meta, metaUrl, relays)));
      const both = await Promise.all(paths.map((path) => meta.oracle({ metaUrl: path.url, args: ['--lease', '1s'], standby: true })));
      await Promise.race(both.map((o) => o.waitForRole('leader', 15_000)));
      const leaderIndex = both.findIndex((o) => o.role === 'leader');
      const [leader, standby] = [both[leaderIndex]!, both[1 - leaderIndex]!];
      const history = startHistoryClient({ addresses: [leader.address, standby.address], callers: 20, durationMs: 7000, maxCount: 10, deadlineMs: 10_000 });
      await history.answered;
      const cutAtNs = process.hrtime.bigint();
      await partition.isolate(portOf(leader.address), ...paths[leaderIndex]!.ports);
      await standby.waitForRole('leader', 15_000);
      await partition.heal();
      await leader.waitForRole('follower', 10_000); // its renewal is refused: another epoch holds the lease
      const { records } = await history.done;
      expect(checkHistory(records)).toEqual([]);
      expect(records.some((r) => r.sentNs > cutAtNs)).toBe(true); // served by the new leader
    } finally {
      await partition.destroy();
      await Promise.all(relays.map((r) => r.close()));
    }
  });
});

describe.skipIf(unavailable !== undefined).each(META_BACKENDS)('oracles cut off from their meta store (%s)', (backend) => {
  const meta = useMetaServer(backend);

  it('the leader stops serving once its lease runs out, and serves again above everything once healed', async () => {
    const [leader, standby] = await oraclePair(meta);
    const partition = await NetworkPartition.create();
    const client = createOracleClient({ addresses: [leader.address, standby.address], deadlineMs: 1000, attemptTimeoutMs: 500 });
    try {
      const before = await client.getTimestamp();
      const storePorts = backend === 'etcd' ? meta.etcd.members.map((m) => m.clientPort) : [meta.server.port];
      await partition.isolate(...storePorts);
      await sleep(1500); // past the lease, by the oracle's own clock
      await expect(client.getTimestamp()).rejects.toBeInstanceOf(OracleUnavailableError);
      await partition.heal();
      let after: bigint | undefined;
      for (let attempt = 0; after === undefined && attempt < 30; attempt++) after = await client.getTimestamp().catch(() => undefined);
      expect(after).toBeGreaterThan(before);
    } finally {
      await partition.destroy();
      await client.close();
    }
  });
});
