/**
 * Engine-level throughput, apples to apples on the same throwaway servers
 * (fsync on): read-modify-write of one key, and two-account transfers
 * across two shards, through the engine (no client layer) against plain
 * Postgres (one server, BEGIN / SELECT FOR UPDATE / UPDATE / COMMIT) and
 * Postgres two-phase commit over the shards (PREPARE / COMMIT PREPARED).
 * After the runs, where a percolator transfer's time went, hop by hop (the
 * start_ts, the read, then the commit's phases), beside the two floors
 * every hop stands on: an oracle round trip and a `select 1`. With one
 * client each hop is paid alone.
 *
 *   npm run build && node dist/test/support/engine-bench.js [seconds=5] [clients=16]
 */
import pg from 'pg';
import { Registry } from 'prom-client';
import { isRetryable } from '../../src/errors.js';
import { PostgresCluster } from '../../src/harness/postgres-cluster.js';
import { PostgresServer } from '../../src/harness/postgres-server.js';
import { startOracleProcess } from '../../src/harness/oracle-process.js';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import { accountsMeta, bankTables } from './bank-schema.js';

const seconds = Number(process.argv[2] ?? 5);
const clients = Number(process.argv[3] ?? 16);
const ACCOUNTS = 1000;

interface Result {
  name: string;
  ok: number;
  failed: number;
  perSecond: number;
  p50: number;
  p99: number;
}

async function measure(name: string, txn: (worker: number) => Promise<void>): Promise<Result> {
  const latencies: number[] = [];
  let failed = 0;
  const warmupEnd = Date.now() + 1000;
  const end = warmupEnd + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, w) => {
      while (Date.now() < end) {
        const t = performance.now();
        try {
          await txn(w);
          if (Date.now() > warmupEnd) latencies.push(performance.now() - t);
        } catch (error) {
          if (!isRetryable(error) && !(error instanceof Error && /could not serialize|deadlock/.test(error.message))) throw error;
          if (Date.now() > warmupEnd) failed++;
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { name, ok: latencies.length, failed, perSecond: latencies.length / seconds, p50: at(0.5), p99: at(0.99) };
}

/** Times per named hop, in ms. */
class HopTimes {
  private readonly samples = new Map<string, number[]>();

  async time<T>(hop: string, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      const list = this.samples.get(hop) ?? [];
      list.push(performance.now() - start);
      this.samples.set(hop, list);
    }
  }

  count(hop: string): number {
    return this.samples.get(hop)?.length ?? 0;
  }

  totalMs(hop: string): number {
    return (this.samples.get(hop) ?? []).reduce((a, b) => a + b, 0);
  }

  medianMs(hop: string): number {
    const sorted = [...(this.samples.get(hop) ?? [])].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  }
}

/** Total seconds per commit phase (percolator_phase_seconds' sums) of the transactions the engine ran. */
async function phaseSeconds(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('percolator_phase_seconds')?.get();
  const sums: Record<string, number> = {};
  for (const v of metric?.values ?? []) {
    if ((v as { metricName?: string }).metricName === 'percolator_phase_seconds_sum') sums[String(v.labels['phase'])] = v.value;
  }
  return sums;
}

const pick = (n: number) => Math.floor(Math.random() * n);

async function main(): Promise<void> {
  const [shards, meta] = await Promise.all([PostgresCluster.start(3), PostgresServer.create()]);
  const oracle = await startOracleProcess({ metaUrl: meta.url });
  const tso = createOracleClient({ addresses: [oracle.address] });
  const pools = shards.urls.map((url) => new pg.Pool({ connectionString: url, max: clients }));
  const registry = new Registry();
  const engine = createTransactionEngine({ shards: shards.urls, timestampSource: tso, registry, pool: { max: clients } });
  try {
    await engine.migrate(bankTables);
    const seed = await engine.begin();
    seed.put(accountsMeta, Array.from({ length: ACCOUNTS }, (_, id) => ({ id, balance: 1000, owner: null })));
    await seed.commit();
    for (const p of pools) {
      await p.query('create table plain_accounts (id integer primary key, balance bigint not null)');
      await p.query(`insert into plain_accounts select g, 1000 from generate_series(0, ${ACCOUNTS - 1}) g`);
    }
    const byShard: number[][] = [[], [], []];
    for (let id = 0; id < ACCOUNTS; id++) byShard[engine.shardOf(accountsMeta, { id })]!.push(id);
    const twoShards = (): [number, number] => {
      const a = pick(3);
      const b = (a + 1 + pick(2)) % 3;
      return [byShard[a]![pick(byShard[a]!.length)]!, byShard[b]![pick(byShard[b]!.length)]!];
    };

    const results: Result[] = [];
    results.push(
      await measure('percolator single-key rmw', async () => {
        const id = pick(ACCOUNTS);
        const tx = await engine.begin();
        const [row] = await tx.getMany(accountsMeta, [[id]]);
        tx.put(accountsMeta, [{ ...row, balance: (row!.balance as number) + 1 }]);
        await tx.commit();
      }),
    );
    results.push(
      await measure('postgres single-key rmw', async () => {
        const id = pick(ACCOUNTS);
        const c = await pools[0]!.connect();
        try {
          await c.query('begin');
          const { rows } = await c.query('select balance from plain_accounts where id = $1 for update', [id]);
          await c.query('update plain_accounts set balance = $2 where id = $1', [id, Number(rows[0].balance) + 1]);
          await c.query('commit');
        } catch (error) {
          await c.query('rollback').catch(() => {});
          throw error;
        } finally {
          c.release();
        }
      }),
    );
    const hops = new HopTimes();
    const phasesBefore = await phaseSeconds(registry);
    results.push(
      await measure('percolator 2-shard transfer', async () => {
        const [from, to] = twoShards();
        const tx = await hops.time('start_ts', () => engine.begin());
        const rows = await hops.time('read', () => tx.getMany(accountsMeta, [[from], [to]]));
        const b = (id: number) => rows.find((r) => r.id === id)!.balance as number;
        tx.put(accountsMeta, [
          { id: from, balance: b(from) - 1, owner: null },
          { id: to, balance: b(to) + 1, owner: null },
        ]);
        await tx.commit();
      }),
    );
    let gid = 0;
    results.push(
      await measure('postgres 2pc 2-shard transfer', async () => {
        const [from, to] = twoShards();
        const legs = [
          { pool: pools[engine.shardOf(accountsMeta, { id: from })]!, id: from, delta: -1 },
          { pool: pools[engine.shardOf(accountsMeta, { id: to })]!, id: to, delta: 1 },
        ];
        const name = `bench-${process.pid}-${gid++}`;
        const conns = await Promise.all(legs.map((l) => l.pool.connect()));
        let prepared = 0;
        try {
          await Promise.all(
            legs.map(async (l, i) => {
              const c = conns[i]!;
              await c.query('begin');
              const { rows } = await c.query('select balance from plain_accounts where id = $1 for update', [l.id]);
              await c.query('update plain_accounts set balance = $2 where id = $1', [l.id, Number(rows[0].balance) + l.delta]);
              await c.query(`prepare transaction '${name}-${i}'`);
              prepared++;
            }),
          );
          await Promise.all(conns.map((c, i) => c.query(`commit prepared '${name}-${i}'`)));
        } catch (error) {
          await Promise.all(conns.map((c, i) => c.query('rollback').catch(() => c.query(`rollback prepared '${name}-${i}'`).catch(() => {}))));
          void prepared;
          throw error;
        } finally {
          for (const c of conns) c.release();
        }
      }),
    );
    const transfers = results.find((r) => r.name === 'percolator 2-shard transfer')!.ok;
    const phasesAfter = await phaseSeconds(registry);
    const phases = Object.fromEntries(Object.entries(phasesAfter).map(([phase, s]) => [phase, s - (phasesBefore[phase] ?? 0)]));
    for (let i = 0; i < 2000; i++) await hops.time('oracle round trip', () => tso.getTimestamp());
    for (let i = 0; i < 2000; i++) await hops.time('select 1', () => pools[0]!.query('select 1'));
    console.log(`clients ${clients}, ${seconds} s each (after 1 s warm-up), 3 shards, fsync on`);
    console.log('workload                          txn/s   p50 ms  p99 ms  failed');
    for (const r of results) {
      console.log(`${r.name.padEnd(32)} ${r.perSecond.toFixed(0).padStart(6)} ${r.p50.toFixed(1).padStart(8)} ${r.p99.toFixed(1).padStart(7)} ${String(r.failed).padStart(7)}`);
    }
    console.log('\npercolator 2-shard transfer, mean ms per attempt (warm-up included; commit_secondaries runs after commit returns)  |  floors, median ms');
    const perTransfer = (ms: number) => (ms / (hops.count('start_ts') || 1)).toFixed(3);
    console.log(`start_ts ${perTransfer(hops.totalMs('start_ts'))} (median ${hops.medianMs('start_ts').toFixed(3)}), read ${perTransfer(hops.totalMs('read'))} (median ${hops.medianMs('read').toFixed(3)}), ` + Object.entries(phases).map(([phase, s]) => `${phase} ${perTransfer(s * 1000)}`).join(', '));
    console.log(`oracle round trip ${hops.medianMs('oracle round trip').toFixed(3)}, select 1 ${hops.medianMs('select 1').toFixed(3)}  (${hops.count('start_ts')} attempts, ${transfers} transfers in the measured window)`);
  } finally {
    await engine.close();
    await tso.close();
    await Promise.all(pools.map((p) => p.end()));
    await oracle.kill('SIGKILL').catch(() => {});
    await Promise.all([shards.destroy(), meta.destroy()]);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
