import { eq, inArray } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransactionAbortedError } from '../../src/errors.js';
import { startOracleProcess, type OracleProcess } from '../../src/harness/oracle-process.js';
import { PostgresCluster } from '../../src/harness/postgres-cluster.js';
import { PostgresServer } from '../../src/harness/postgres-server.js';
import { percolator } from '../../src/index.js';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import { shardOf } from '../../src/shard/shard-of.js';
import { accounts, accountsMeta, transfers, transfersMeta } from '../support/bank-schema.js';
import { pauseTree } from '../support/pause-tree.js';
import { checkBank as checkLedgerBank, checkLedger, ledgerTransfer, LEDGER_INITIAL, locksOn, newLedgerRun, readBank, type BankDb } from '../support/bank-ledger.js';

const SHARDS = 3;
const ACCOUNTS = 24;
const CLIENTS = 16;
const LOCK_TTL_MS = 1000;
const schema = { accounts, transfers };
type Db = BankDb;
const checkBank = (bank: Awaited<ReturnType<typeof readBank>>): void => checkLedgerBank(bank, ACCOUNTS);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `done()` (true), or `ms` have passed (false). */
async function until(done: () => boolean, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; !done() && Date.now() < deadline; ) await sleep(50);
  return done();
}

/**
 * Shards that are primaries with a synchronous standby each (multi-host
 * URLs): a shard's primary is SIGKILLed under load, its standby promoted
 * (as a failover tool would), and the client finds it and goes on
 * (src/shard/shard-primary.ts, its invariants).
 */
describe('shard failover to a synchronous standby', () => {
  let cluster: PostgresCluster;
  let oracleDatabase: PostgresServer;
  let oracle: OracleProcess;
  const dbs: Db[] = [];
  const warnings: string[] = [];

  beforeAll(async () => {
    [cluster, oracleDatabase] = await Promise.all([PostgresCluster.start(SHARDS, { unsafeFast: true, replicas: 1 }), PostgresServer.create({ unsafeFast: true })]);
    oracle = await startOracleProcess({ metaUrl: oracleDatabase.url });
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    // Two clients, as two application processes would be.
    for (let i = 0; i < 2; i++) {
      dbs.push(await percolator({ oracle: [oracle.address], shards: cluster.urls, schema, lockTtlMs: LOCK_TTL_MS, maxRetries: 20, logger }));
    }
    await dbs[0]!.migrate();
    await dbs[0]!.insert(accounts).values(Array.from({ length: ACCOUNTS }, (_, id) => ({ id, balance: LEDGER_INITIAL })));
  });
  afterAll(async () => {
    await Promise.all(dbs.map((db) => db.close().catch(() => {})));
    await oracle?.kill('SIGKILL').catch(() => {});
    await Promise.all([cluster?.destroy(), oracleDatabase?.destroy()]);
  });

  it('keeps every acknowledged transfer, the totals and every ledger balance across a SIGKILL of a primary at 16 clients', async () => {
    const failed = 1;
    expect(cluster.urls[failed]).toContain(',');
    const run = newLedgerRun();
    const { acked, undetermined, errors } = run;
    let stop = false;
    const onFailed = ({ id, from, to }: { id: string; from: number; to: number }) =>
      [shardOf(accountsMeta, { id: from }, SHARDS), shardOf(accountsMeta, { id: to }, SHARDS), shardOf(transfersMeta, { id }, SHARDS)].includes(failed);

    const client = async (c: number): Promise<void> => {
      const db = dbs[c % dbs.length]!;
      for (let i = 0; !stop; i++) {
        await ledgerTransfer(db, run, `c${c}-${i}`, ACCOUNTS);
      }
    };

    const load = Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
    try {
      expect(await until(() => acked.length >= 40, 15_000)).toBe(true);
      const beforeKill = acked.length;
      await cluster.servers[failed]!.kill();
      await sleep(300); // the load meets the lost primary before a standby takes over
      await cluster.standbys[failed]![0]!.promote();
      const promotedAt = Date.now();
      // The load goes on, the failed shard included.
      const afterPromotion = () => acked.filter((a) => a.at > promotedAt && onFailed(a)).length;
      expect(await until(() => afterPromotion() >= 40, 15_000)).toBe(true);
      stop = true;
      await load;
      const retries: Record<string, number> = {};
      for (const db of dbs) {
        for (const v of (await db.registry.getSingleMetric('percolator_retries_total')!.get()).values) retries[String(v.labels.cause)] = (retries[String(v.labels.cause)] ?? 0) + v.value;
      }
      // The load did meet the lost primary, and db.transaction ran those transactions again.
      expect(retries.SHARD_UNAVAILABLE).toBeGreaterThan(0);
      console.log(
        `failover: ${beforeKill} transfers acknowledged before the kill, ${acked.length} in all, ${afterPromotion()} after the promotion touching the failed shard ` +
          `(the first ${acked.find((a) => a.at > promotedAt && onFailed(a))!.at - promotedAt} ms after it); ${undetermined.size} undetermined; retries ${JSON.stringify(retries)}, errors after retries ${JSON.stringify(Object.fromEntries(errors))}`,
      );
    } finally {
      stop = true;
      await load.catch(() => {});
    }

    // Every acknowledged transfer is in the ledger, and nothing else but undetermined ones.
    const bank = await readBank(dbs[1]!);
    checkLedger(bank, [run]);
    checkBank(bank);
    expect(warnings.some((w) => w.includes('shard primary moved to another host'))).toBe(true);

    // No lock is left unresolved: once their TTL has run out, a reader resolves what the lost primary's transactions left.
    await sleep(LOCK_TTL_MS + 200);
    const deadline = Date.now() + 10_000;
    let left = -1;
    while (left !== 0 && Date.now() < deadline) {
      checkBank(await readBank(dbs[0]!));
      left = (await Promise.all(cluster.urls.map(locksOn))).reduce((a, b) => a + b, 0);
      if (left !== 0) await sleep(200);
    }
    expect(left).toBe(0);

    // A client started after the failover finds the promoted standby (the first host of the URL is gone) and accepts its identity.
    const late = await percolator({ oracle: [oracle.address], shards: cluster.urls, schema });
    try {
      checkBank({ accounts: await late.select().from(accounts), ledger: await late.select().from(transfers) });
    } finally {
      await late.close();
    }
  });

  it('acknowledges a commit only once the standby has it, so one acknowledged just before the primary dies is on the promoted standby', async () => {
    const shard = 2;
    const [primary, standby] = [cluster.servers[shard]!, cluster.standbys[shard]![0]!];
    const db = dbs[0]!;
    const idsOnShard = (prefix: string, count: number): string[] => {
      const ids: string[] = [];
      for (let i = 0; ids.length < count; i++) if (shardOf(transfersMeta, { id: `${prefix}${i}` }, SHARDS) === shard) ids.push(`${prefix}${i}`);
      return ids;
    };
    const entry = (id: string) => ({ id, fromId: 0, toId: 0, amount: 0 });

    // The standby receives nothing: a commit on the shard (its prewrite lazy, its commit synchronous) does not return.
    const [paused] = idsOnShard('paused-', 1);
    pauseTree(standby, 'STOP');
    const pending = db.insert(transfers).values(entry(paused!)).then(() => 'acknowledged');
    try {
      expect(await Promise.race([pending, sleep(1000).then(() => 'waiting')])).toBe('waiting');
    } finally {
      pauseTree(standby, 'CONT');
    }
    expect(await pending).toBe('acknowledged');

    // Single-shard transactions (the primary shard's prewrite without a flush wait, then the synchronous commit) and a
    // cross-shard transfer, all acknowledged; the primary is SIGKILLed the moment the last answer arrives.
    const ids = idsOnShard('last-', 32);
    const accountIds = Array.from({ length: ACCOUNTS }, (_, id) => id);
    const from = accountIds.find((id) => shardOf(accountsMeta, { id }, SHARDS) !== shard)!;
    const to = accountIds.find((id) => shardOf(accountsMeta, { id }, SHARDS) === shard)!;
    const transfer = idsOnShard('last-transfer-', 1)[0]!;
    await Promise.all([
      ...ids.map((id) => db.insert(transfers).values(entry(id))),
      db.transaction(async (tx) => {
        const rows = await tx.select().from(accounts).where(inArray(accounts.id, [from, to]));
        const balance = (account: number) => rows.find((r) => r.id === account)!.balance;
        await tx.update(accounts).set({ balance: balance(from) - 7 }).where(eq(accounts.id, from));
        await tx.update(accounts).set({ balance: balance(to) + 7 }).where(eq(accounts.id, to));
        await tx.insert(transfers).values({ id: transfer, fromId: from, toId: to, amount: 7 });
      }),
    ]);
    await primary.kill();
    await standby.promote();

    const bank = await readBank(db);
    const ledgerIds = new Set(bank.ledger.map((t) => t.id));
    expect([paused!, ...ids, transfer].filter((id) => !ledgerIds.has(id))).toEqual([]);
    checkBank(bank);
    await sleep(LOCK_TTL_MS + 200);
    await readBank(db);
    expect(await locksOn(cluster.urls[shard]!)).toBe(0);
  });

  it('a commit that cannot be sent while no host is the primary is a definite abort, not an undetermined commit', async () => {
    const shard = 0;
    const [primary, standby] = [cluster.servers[shard]!, cluster.standbys[shard]![0]!];
    const tso = createOracleClient({ addresses: [oracle.address] });
    let armed = true;
    // The primary dies after the prewrite, before commitPrimary is sent; its standby is not promoted yet.
    const hooks = {
      beforeCommitPrimary: async (info: { primaryShard: number }) => {
        if (!armed || info.primaryShard !== shard) return;
        armed = false;
        await primary.kill();
        await sleep(100); // the client has seen its connections close
      },
    };
    const engine = createTransactionEngine({ shards: cluster.urls, timestampSource: tso, lockTtlMs: LOCK_TTL_MS, hooks });
    engine.register([accountsMeta, transfersMeta]);
    try {
      let id = 'unsent-0';
      for (let i = 1; shardOf(transfersMeta, { id }, SHARDS) !== shard; i++) id = `unsent-${i}`;
      const tx = await engine.begin();
      await tx.insert(transfersMeta, [{ id, fromId: 0, toId: 0, amount: 0 }]);
      const failure = await tx.commit().then(() => undefined, (error: unknown) => error);
      expect(armed).toBe(false);
      expect(failure).toBeInstanceOf(TransactionAbortedError);
      expect(String((failure as Error).message)).toContain('no primary among its hosts');

      await standby.promote();
      await sleep(LOCK_TTL_MS + 200);
      const db = dbs[0]!;
      expect(await db.select().from(transfers).where(eq(transfers.id, id))).toEqual([]);
      checkBank(await readBank(db));
      expect(await locksOn(cluster.urls[shard]!)).toBe(0);
    } finally {
      await engine.close();
      await tso.close();
    }
  });
});
