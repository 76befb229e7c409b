import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TimestampSource } from '../../src/oracle/timestamp-source.js';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { withRetries } from '../support/bank.js';
import { accountsMeta, bankTables } from '../support/bank-schema.js';
import { useEngines } from '../support/engine-fixture.js';
import { countOnShards } from '../support/raw-shards.js';
import type { TestCluster } from '../support/test-cluster.js';

/**
 * Scans read each key's latest row, and the versions table only for keys
 * committed after their timestamp (schema/table/0007-latest-versions.sql).
 */
describe('scans over history', () => {
  const fixture = useEngines({ shards: 2, seed: false, defaults: { gc: false } });
  let cluster: TestCluster;
  let tso: TimestampSource;
  let engine: TransactionEngine;
  const ids = [0, 1, 2, 3, 4, 5];

  // Retried: the previous write's secondaries are committed in the background.
  const write = (rows: { id: number; owner: string | null }[], deletes: number[] = []): Promise<bigint> =>
    withRetries(async () => {
      const tx = await engine.begin();
      tx.put(accountsMeta, rows.map((r) => ({ id: r.id, balance: 1, owner: r.owner })));
      tx.delete(accountsMeta, deletes.map((id) => [id]));
      return (await tx.commit()).commitTs!;
    });
  const scanAt = async (readTs?: bigint): Promise<Record<number, unknown>> => {
    const tx = await engine.begin(readTs === undefined ? {} : { readTs });
    const rows = await tx.select(accountsMeta);
    if (readTs === undefined) await tx.commit();
    return Object.fromEntries(rows.map((r) => [r.id as number, r.owner]).sort((a, b) => (a[0] as number) - (b[0] as number)));
  };

  beforeAll(() => {
    ({ cluster, tso } = fixture);
    engine = fixture.engines[0]!;
  });

  it('every snapshot sees the versions of its time: older ones through the versions table, deletes included', async () => {
    await write(ids.map((id) => ({ id, owner: 'first' })));
    const t1 = await tso.getTimestamp();
    await write([{ id: 0, owner: 'second' }, { id: 1, owner: 'second' }], [2]);
    const t2 = await tso.getTimestamp();
    await write([{ id: 0, owner: 'third' }, { id: 2, owner: 'back' }], [3]);

    expect(await scanAt(t1)).toEqual({ 0: 'first', 1: 'first', 2: 'first', 3: 'first', 4: 'first', 5: 'first' });
    expect(await scanAt(t2)).toEqual({ 0: 'second', 1: 'second', 3: 'first', 4: 'first', 5: 'first' });
    expect(await scanAt()).toEqual({ 0: 'third', 1: 'second', 2: 'back', 4: 'first', 5: 'first' });
  });

  it('a table stored before latest rows existed gets them from its versions on migrate', async () => {
    const before = await scanAt();
    // Undo migration 0007 on every shard, as on a shard written by an older client.
    await Promise.all(
      cluster.shardUrls.map(async (url) => {
        const client = new pg.Client(url);
        await client.connect();
        try {
          await client.query(`drop table accounts__latest; delete from percolator_migrations where name in ('table/accounts/0007-latest-versions', 'table/accounts/0009-slot-column', 'table/accounts/0010-latest-op-char')`);
        } finally {
          await client.end();
        }
      }),
    );
    await engine.migrate(bankTables);
    expect(await scanAt()).toEqual(before);
    expect((await countOnShards(cluster.shardUrls, 'select count(*) as n from accounts__latest')).reduce((a, b) => a + b, 0)).toBe(ids.length);
    // Rebuilt with a text op by 0007, then made one-byte by 0010, deletes included; its check constraint is the new one alone.
    expect(await countOnShards(cluster.shardUrls, `select count(*) as n from accounts__latest where op not in ('p', 'd')`)).toEqual(cluster.shardUrls.map(() => 0));
    expect(await countOnShards(cluster.shardUrls, `select count(*) as n from pg_constraint where conrelid = 'accounts__latest'::regclass and contype = 'c'`)).toEqual(cluster.shardUrls.map(() => 1));
  });
});
