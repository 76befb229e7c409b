import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { countOnShards } from '../support/raw-shards.js';
import { accountsMeta } from '../support/bank-schema.js';
import { useBankEngines } from '../support/engine-fixture.js';

describe('a transaction that outlives maxTransactionMs', () => {
  const bank = useBankEngines(2, { gc: { lifetimeMs: 200, intervalMs: 3_600_000 } });

  it('loses its locks, fails with a typed error, and no longer holds back the GC safe point', async () => {
    // Long enough that a loaded machine still takes the locks before the deadline drops them.
    const engine = bank.engine({ maxTransactionMs: 1_500 });
    const tx = await engine.begin();
    await tx.getMany(accountsMeta, [[1], [2]], { lock: { strength: 'update' } });
    const held = await countOnShards(bank.cluster.shardUrls, 'select count(*) as n from accounts__locks');
    expect(held.reduce((a, b) => a + b, 0)).toBe(2);

    await sleep(3_500); // the callback hangs, well past its deadline (the heartbeat would keep the locks for ever)
    expect(await countOnShards(bank.cluster.shardUrls, 'select count(*) as n from accounts__locks')).toEqual([0, 0]);
    const run = await bank.engines[0]!.collectGarbage({ force: true });
    for (const shard of run.shards) expect(shard.safePoint).toBeGreaterThan(tx.startTs);

    const read = await tx.getMany(accountsMeta, [[1]]).catch((e: unknown) => e);
    expect(read).toMatchObject({ code: 'TRANSACTION_TIMEOUT', retryable: false });
    expect(() => tx.put(accountsMeta, [{ id: 1, balance: 0, owner: null }])).toThrow(/maxTransactionMs/);
    const commit = await tx.commit().catch((e: unknown) => e);
    expect(commit).toMatchObject({ code: 'TRANSACTION_TIMEOUT' });
    expect((commit as Error).message).toMatch(/maxTransactionMs \(1500 ms\)/);
  });

  it('does not touch a transaction that commits in time', async () => {
    const engine = bank.engine({ maxTransactionMs: 5_000 });
    const tx = await engine.begin();
    await tx.getMany(accountsMeta, [[3]], { lock: { strength: 'update' } });
    tx.put(accountsMeta, [{ id: 3, balance: 7, owner: null }]);
    await expect(tx.commit()).resolves.toMatchObject({ commitTs: expect.any(BigInt) });
  });
});
