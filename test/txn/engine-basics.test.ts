import { and, asc, eq, gt, lt } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { UniqueViolationError, WriteConflictError } from '../../src/errors.js';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { accounts, accountsMeta } from '../support/bank-schema.js';
import { useEngines } from '../support/engine-fixture.js';

describe('transaction engine basics', () => {
  const fixture = useEngines({ tables: [accountsMeta], seed: false });
  let engine: TransactionEngine;

  beforeAll(async () => {
    engine = fixture.engines[0]!;
    await engine.migrate([accountsMeta]); // idempotent
  });

  it('inserts, reads with pushed-down filters, updates and deletes across shards', async () => {
    const tx = await engine.begin();
    await tx.insert(accountsMeta, Array.from({ length: 10 }, (_, i) => ({ id: i, balance: 100 * i, owner: `o${i}` })));
    // Own writes are visible, filtered in Postgres.
    const mine = await tx.select(accountsMeta, { where: gt(accounts.balance, 500) });
    expect(mine.map((r) => r.id).sort()).toEqual([6, 7, 8, 9]);
    const { commitTs } = await tx.commit();
    expect(commitTs).toBeGreaterThan(tx.startTs);

    const read = await engine.begin();
    const rows = await read.select(accountsMeta, { where: and(gt(accounts.balance, 100), lt(accounts.balance, 500)), orderBy: [asc(accounts.balance)] });
    // orderBy applies per shard (the client merges); compare as a set.
    expect([...rows].sort((a, b) => (a.id as number) - (b.id as number))).toEqual([
      { id: 2, balance: 200, owner: 'o2' },
      { id: 3, balance: 300, owner: 'o3' },
      { id: 4, balance: 400, owner: 'o4' },
    ]);
    const spread = new Set(Array.from({ length: 10 }, (_, i) => engine.shardOf(accountsMeta, { id: i })));
    expect(spread.size).toBeGreaterThan(1);

    const w = await engine.begin();
    w.put(accountsMeta, [{ id: 1, balance: 111, owner: null }]);
    w.delete(accountsMeta, [[2]]);
    const seen = await w.select(accountsMeta, { where: lt(accounts.balance, 250) });
    expect(seen.map((r) => r.id).sort()).toEqual([0, 1]);
    await w.commit();

    const after = await engine.begin();
    expect(await after.getMany(accountsMeta, [[1], [2], [3]])).toHaveLength(2);
    const old = await engine.begin({ readTs: read.startTs });
    expect((await old.getMany(accountsMeta, [[2]]))[0]).toEqual({ id: 2, balance: 200, owner: 'o2' });

    // Point reads see the transaction's own buffered puts and deletes, and the right version of a key with history.
    const own = await engine.begin();
    own.put(accountsMeta, [{ id: 3, balance: 333, owner: 'new' }]);
    own.delete(accountsMeta, [[4]]);
    const byId = (rows: Record<string, unknown>[]) => [...rows].sort((a, b) => (a.id as number) - (b.id as number));
    expect(byId(await own.getMany(accountsMeta, [[1], [2], [3], [4], [5], [3]]))).toEqual([
      { id: 1, balance: 111, owner: null },
      { id: 3, balance: 333, owner: 'new' },
      { id: 5, balance: 500, owner: 'o5' },
    ]);
    await own.rollback();
  });

  it('refuses an insert of an existing key and a lost update', async () => {
    const tx = await engine.begin();
    await expect(tx.insert(accountsMeta, [{ id: 3, balance: 1, owner: null }])).rejects.toBeInstanceOf(UniqueViolationError);

    const t1 = await engine.begin();
    const t2 = await engine.begin();
    await t1.select(accountsMeta, { where: eq(accounts.id, 5) });
    await t2.select(accountsMeta, { where: eq(accounts.id, 5) });
    t1.put(accountsMeta, [{ id: 5, balance: 1, owner: null }]);
    t2.put(accountsMeta, [{ id: 5, balance: 2, owner: null }]);
    await t1.commit();
    await expect(t2.commit()).rejects.toBeInstanceOf(WriteConflictError);
    const check = await engine.begin();
    expect((await check.getMany(accountsMeta, [[5]]))[0]!.balance).toBe(1);
  });
});
