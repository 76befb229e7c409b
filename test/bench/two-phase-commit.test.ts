import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountsTable, type BenchRow } from '../../bench/bench-table.js';
import { placementOf } from '../../bench/placement.js';
import type { BenchTx } from '../../bench/systems/bench-system.js';
import { TwoPhaseCommitSystem } from '../../bench/systems/two-phase-commit-system.js';
import { audit, INITIAL_BALANCE, transfer } from '../../bench/workloads/bank.js';
import { PostgresCluster } from '../../src/harness/postgres-cluster.js';

const KEYS = 20;

describe('2pc baseline', () => {
  let cluster: PostgresCluster;
  const shardOf = placementOf(accountsTable('accounts'), 2);
  // Two accounts on different shards.
  const from = [...Array(KEYS).keys()].find((id) => shardOf(id) === 0)!;
  const to = [...Array(KEYS).keys()].find((id) => shardOf(id) === 1)!;
  const rows = Array.from({ length: KEYS }, (_, id) => ({ id, balance: INITIAL_BALANCE }));

  beforeAll(async () => {
    cluster = await PostgresCluster.start(2, { unsafeFast: true });
  });
  afterAll(async () => {
    await cluster?.destroy();
  });

  async function preparedTransactions(): Promise<string[]> {
    const gids: string[] = [];
    for (const url of cluster.urls) {
      const client = new pg.Client(url);
      await client.connect();
      gids.push(...(await client.query<{ gid: string }>('SELECT gid FROM pg_prepared_xacts')).rows.map((r) => r.gid));
      await client.end();
    }
    return gids;
  }

  it('lets an audit read between two shards\' COMMIT PREPARED, and the bank check catches it', async () => {
    const table = accountsTable('bench_2pc_anomaly');
    let seen: string | undefined;
    const reader = new TwoPhaseCommitSystem(cluster.urls, 2, shardOf, []);
    const auditTxn = audit(table, KEYS);
    const writer = new TwoPhaseCommitSystem(cluster.urls, 2, shardOf, [], {
      // Shard 0 has committed its half of the transfer, shard 1 not yet: audit now.
      async afterCommitPrepared() {
        const result = await reader.attempt((tx) => auditTxn.run(tx), { readOnly: true });
        seen = auditTxn.check!(result);
      },
    });
    try {
      await writer.createTable(table, rows);
      await writer.attempt((tx) => transfer(table, from, to, 7).run(tx), { readOnly: false });
      expect(seen).toBe(`audit saw total ${KEYS * INITIAL_BALANCE - 7}, expected ${KEYS * INITIAL_BALANCE}`);
      // Once both shards committed, the total is whole again.
      const after = await reader.attempt((tx) => auditTxn.run(tx), { readOnly: true });
      expect(auditTxn.check!(after)).toBeUndefined();
      expect(await preparedTransactions()).toEqual([]);
    } finally {
      await writer.dropTable(table);
      await Promise.all([writer.close(), reader.close()]);
    }
  });

  it('rolls back what did prepare when another shard fails in phase one', async () => {
    const table = accountsTable('bench_2pc_abort');
    const system = new TwoPhaseCommitSystem(cluster.urls, 2, shardOf, []);
    try {
      await system.createTable(table, rows);
      const failing = system.attempt(async (tx: BenchTx) => {
        await tx.get(table, [from, to], { forUpdate: true });
        // Breaks shard 1's update at PREPARE time; shard 0 prepares fine.
        await tx.update(table, [{ id: from, set: { balance: 1 } }, { id: to, set: { balance: 'not a number' } }]);
      }, { readOnly: false });
      await expect(failing).rejects.toThrow(/invalid input syntax for type integer/);
      expect(await preparedTransactions()).toEqual([]);
      const rowsNow: BenchRow[] = await system.attempt((tx) => tx.get(table, [from, to]), { readOnly: true });
      expect(rowsNow.map((r) => r.balance)).toEqual([INITIAL_BALANCE, INITIAL_BALANCE]);
    } finally {
      await system.dropTable(table);
      await system.close();
    }
  });
});
