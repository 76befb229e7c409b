import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDelayRelays, type DelayRelays } from '../../bench/delay-relays.js';
import { EtcdCluster } from '../../src/harness/etcd-cluster.js';
import { NetworkPartition, partitionsUnavailable } from '../../src/harness/network-partition.js';
import { startOracleProcess, type OracleProcess } from '../../src/harness/oracle-process.js';
import { PostgresCluster } from '../../src/harness/postgres-cluster.js';
import * as errors from '../../src/errors.js';
import { percolator, type Database, type IsolationLevel } from '../../src/index.js';
import { withRetries } from '../support/bank.js';
import { bankSchema, checkLedger, ledgerTransfer, newLedgerRun, readBank, resolveAllLocks, seedLedgerBank, type BankDb, type LedgerRun } from '../support/bank-ledger.js';
import { anomalyTypes, checkHistory } from './check-history.js';
import type { Txn } from './history.js';
import { finalReadOfAllLists, listLocksLeft, listSchema, runListAppendWorkload, seedLists } from './list-append-workload.js';
import { runListAppendChild } from './list-append-child.js';
import { Nemesis, seeded, type Fault } from './nemesis.js';
import { recoverySummary } from './nemesis-summary.js';

const LOCK_TTL_MS = 500;
const KEYS = 8;
const ACCOUNTS = 16;
/** Every error class the client may throw: anything else reaching a transaction is a bug. */
const TYPED_ERRORS = new Set(Object.values(errors).filter((v) => typeof v === 'function').map((v) => (v as { name: string }).name));

export interface NemesisRun {
  /** Load with faults per isolation level, then the nemesis stops and the history is checked. */
  minutesPerLevel: number;
  seed: number;
  timeoutMs: number;
}

/**
 * List-append histories (test/history) while a nemesis kills, pauses, cuts
 * off and drops packets of shards, oracles and etcd members, and delays
 * shards' traffic: 3 shards (each reached through a delay relay), two oracles on a
 * 3-member etcd cluster, one client of 6 workers, and beside it client
 * processes of 2 workers, each SIGKILLed just after it starts committing its
 * k-th transaction (k drawn from the seed), one after another; and bank
 * transfers with a ledger by 4 more workers. Checked after each run:
 * no G0, G1 or G-single (nor G2 in serializable mode), no acknowledged
 * append lost (the quiescent final read), every acknowledged transfer in the
 * ledger and no failed one, every balance what the ledger moved, the total
 * unchanged, only typed errors, no lock left.
 */
export async function nemesisSuite(run: NemesisRun): Promise<void> {
  const unavailable = await partitionsUnavailable();
  if (unavailable) console.warn(`nemesis tests skipped: ${unavailable}`);

  describe.skipIf(unavailable !== undefined)(`list-append under a nemesis (seed ${run.seed})`, () => {
    let shards: PostgresCluster;
    let etcd: EtcdCluster;
    let partition: NetworkPartition;
    let relays: DelayRelays;
    /** The shards' URLs through their relays: the placement map records these, so every client's traffic passes the relays. */
    let relayedUrls: string[];
    const oracles: OracleProcess[] = [];
    let db: Database<typeof listSchema>;
    let bank: BankDb;
    /** Every level's transfers: the ledger holds them all. */
    const ledgerRuns: LedgerRun[] = [];

    beforeAll(async () => {
      [shards, etcd] = await Promise.all([PostgresCluster.start(3, { unsafeFast: true }), EtcdCluster.start({ members: 3 })]);
      partition = await NetworkPartition.create();
      relays = await startDelayRelays(
        shards.servers.map((s) => ({ host: '127.0.0.1', port: s.port })),
        0,
      );
      relayedUrls = shards.urls.map((url, i) => Object.assign(new URL(url), { port: String(relays.ports[i]) }).toString());
      const metaUrl = etcd.url();
      oracles.push(...(await Promise.all([0, 1].map(() => startOracleProcess({ metaUrl, standby: true, args: ['--lease', '1s'] })))));
      await Promise.race(oracles.map((o) => o.waitForRole('leader', 20_000)));
      db = await percolator({
        oracle: oracles.map((o) => o.address),
        shards: relayedUrls,
        schema: listSchema,
        lockTtlMs: LOCK_TTL_MS,
        pool: { statementTimeoutMs: 2000, connectTimeoutMs: 1000 },
      });
      await db.migrate();
      bank = await percolator({ oracle: oracles.map((o) => o.address), shards: relayedUrls, schema: bankSchema, lockTtlMs: LOCK_TTL_MS, maxRetries: 3, pool: { statementTimeoutMs: 2000, connectTimeoutMs: 1000 } });
      await bank.migrate();
      await seedLedgerBank(bank, ACCOUNTS);
    });
    afterAll(async () => {
      await partition?.destroy();
      await db?.close();
      await bank?.close();
      await Promise.all(oracles.map((o) => o.kill('SIGKILL')));
      await relays?.close();
      await Promise.all([shards?.destroy(), etcd?.destroy()]);
    });

    describe.each([
      ['serializable', 0],
      ['snapshot', 1],
    ] as const)('%s', (isolation: IsolationLevel, level) => {
      it('keeps every acknowledged append and the isolation level through kills, pauses and partitions', async () => {
        const options = { keys: KEYS, keyBase: level * 1000 };
        await withRetries(() => seedLists(db, options));
        const nemesis = new Nemesis({ shards: shards.servers, oracles, etcd, partition, shardRelays: relays }, { seed: run.seed + level, faultMs: [300, 1500], gapMs: [200, 800] });
        const acknowledgedAt: number[] = [];
        const endAt = Date.now() + run.minutesPerLevel * 60_000;
        const base = level * 100_000_000;
        nemesis.start();
        const workload = runListAppendWorkload(db, {
          ...options,
          isolation,
          workers: 6,
          txns: 10_000_000,
          maxOpsPerTxn: 4,
          firstValue: base + 1,
          firstId: base + 1,
          shouldStop: () => Date.now() > endAt,
          onTxn: (t) => void (t.outcome === 'ok' && acknowledgedAt.push(Date.now())),
        });
        // Client processes killed mid-commit, one after another while the load lasts.
        const killAt = seeded(run.seed + 7 + level);
        let clientsKilled = 0;
        const killedClients = (async (): Promise<Txn[]> => {
          const childHistory: Txn[] = [];
          for (let round = 0; Date.now() < endAt; round++) {
            const first = base + 50_000_000 + round * 100_000;
            const workload = { ...options, isolation, workers: 2, txns: 200, maxOpsPerTxn: 4, firstValue: first, firstId: first };
            const txns = await runListAppendChild({ oracle: oracles.map((o) => o.address), shards: relayedUrls, lockTtlMs: LOCK_TTL_MS, workload }, 3 + Math.floor(killAt() * 15));
            if (txns.some((t) => t.note === 'client killed while committing')) clientsKilled += 1;
            childHistory.push(...txns);
            if (txns.length === 0) await sleep(200); // it could not start (a shard down): try again shortly
          }
          return childHistory;
        })();
        const ledger = newLedgerRun();
        ledgerRuns.push(ledger);
        const transfers = Promise.all(
          Array.from({ length: 4 }, async (_, w) => {
            for (let i = 0; Date.now() < endAt; i++) await ledgerTransfer(bank, ledger, `${isolation}-${w}-${i}`, ACCOUNTS);
          }),
        );
        let history: Txn[];
        let workloadErrors: Record<string, number>;
        let loadEndedAt = Date.now();
        try {
          ({ history, errors: workloadErrors } = await workload);
          loadEndedAt = Date.now();
          history.push(...(await killedClients));
          await transfers;
        } finally {
          await nemesis.stop();
          await killedClients.catch(() => {});
          await transfers.catch(() => {});
        }
        await etcd.waitHealthy();
        await sleep(LOCK_TTL_MS * 2);
        history.push(await withRetries(() => finalReadOfAllLists(db, options, base + 90_000_000)));

        const verdict = checkHistory(history, isolation);
        const outcomes = { ok: 0, fail: 0, info: 0 };
        for (const t of history) outcomes[t.outcome] += 1;
        // Faults healed after the load stopped have nothing to recover to.
        const recovery = recoverySummary(
          nemesis.faults.filter((f) => f.healedAt < loadEndedAt),
          acknowledgedAt,
        );
        console.info(
          `nemesis ${isolation} (seed ${run.seed + level}, ${run.minutesPerLevel} min): ${JSON.stringify({
            operations: history.length,
            outcomes,
            faults: { ...nemesis.counts(), 'client-kill': clientsKilled },
            anomalies: anomalyTypes(verdict.anomalies),
            recoveryMs: recovery.all,
            recoveryMsByKind: recovery.byKind,
            errors: workloadErrors,
            transfers: { acknowledged: ledger.acked.length, undetermined: ledger.undetermined.size, errors: Object.fromEntries(ledger.errors) },
          })}`,
        );
        expect(verdict.violations.map((v) => v.description)).toEqual([]);
        expect(Object.keys(workloadErrors).filter((name) => !TYPED_ERRORS.has(name))).toEqual([]);
        expect(nemesis.faults.length).toBeGreaterThan(0);
        // Loss and delay touched real traffic (the relays carry every client's, the drop rules matched).
        expect(trafficTouched(nemesis.faults, (k) => k.endsWith('-loss'))).not.toBe(0);
        expect(trafficTouched(nemesis.faults, (k) => k.endsWith('-delay'))).not.toBe(0);
        expect(outcomes.ok).toBeGreaterThan(20);
        expect(await listLocksLeft(shards.urls)).toBe(0);
        checkLedger(await withRetries(() => readBank(bank)), ledgerRuns);
        expect(await resolveAllLocks(bank, shards.urls, ACCOUNTS)).toBe(0);
      }, run.timeoutMs);
    });
  });
}

/** Segments dropped or chunks delayed by the faults of these kinds, summed; undefined when there were none. */
function trafficTouched(faults: readonly Fault[], kinds: (kind: string) => boolean): number | undefined {
  const chosen = faults.filter((f) => kinds(f.kind));
  return chosen.length === 0 ? undefined : chosen.reduce((sum, f) => sum + (f.hits ?? 0), 0);
}
