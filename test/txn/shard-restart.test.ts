import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { CommitUndeterminedError, PercolatorError } from '../../src/errors.js';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { BANK_ACCOUNTS, BANK_INITIAL, bankTotal, transferWithLedger } from '../support/bank.js';
import { transfersMeta } from '../support/bank-schema.js';
import { useEngines } from '../support/engine-fixture.js';
import { countOnShards } from '../support/raw-shards.js';
import type { TestCluster } from '../support/test-cluster.js';

describe('a shard crashes and restarts under load', () => {
  const bank = useEngines({ first: { lockTtlMs: 500, pool: { max: 8, connectTimeoutMs: 1000, statementTimeoutMs: 3000 } } });
  let cluster: TestCluster;
  let engine: TransactionEngine;

  beforeAll(() => {
    cluster = bank.cluster;
    engine = bank.engines[0]!;
  });

  it('fails only with typed errors, loses no acknowledged commit, keeps the bank invariant', async () => {
    const acknowledged = new Set<string>();
    const undetermined = new Set<string>();
    const failed = new Set<string>();
    const errorCodes = new Map<string, number>();
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop && i < 400; i++) {
        const id = `w${w}-${i}`;
        const from = Math.floor(Math.random() * BANK_ACCOUNTS);
        const to = (from + 1 + Math.floor(Math.random() * (BANK_ACCOUNTS - 1))) % BANK_ACCOUNTS;
        try {
          await transferWithLedger(engine, id, from, to, 1 + (i % 9));
          acknowledged.add(id);
        } catch (error) {
          // Typed errors only: retryable ones mean "nothing committed", undetermined means "maybe".
          expect(error).toBeInstanceOf(PercolatorError);
          const code = (error as PercolatorError).code;
          errorCodes.set(code, (errorCodes.get(code) ?? 0) + 1);
          if (error instanceof CommitUndeterminedError) undetermined.add(id);
          else {
            expect((error as PercolatorError).retryable, String(error)).toBe(true);
            failed.add(id);
          }
          await sleep(20);
        }
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(writer));
    await sleep(1500);
    const victim = cluster.shards.servers[1]!;
    await victim.kill();
    await sleep(800);
    await victim.start();
    await sleep(1500);
    stop = true;
    await load;

    // Read everything: resolves every lock left by failed commits.
    expect((await bankTotal(engine)).total).toBe(BANK_ACCOUNTS * BANK_INITIAL);
    const tx = await engine.begin();
    const ledger = new Set((await tx.select(transfersMeta)).map((r) => r.id as string));
    for (const id of acknowledged) expect(ledger.has(id), `acknowledged ${id} lost`).toBe(true);
    for (const id of failed) expect(ledger.has(id), `failed ${id} visible`).toBe(false);
    for (const id of ledger) expect(acknowledged.has(id) || undetermined.has(id), `unexpected ${id}`).toBe(true);
    await engine.close();
    engine = bank.engine();
    expect((await bankTotal(engine)).total).toBe(BANK_ACCOUNTS * BANK_INITIAL);
    expect(acknowledged.size).toBeGreaterThan(10);
    expect(failed.size + undetermined.size).toBeGreaterThan(0);
    console.log(`restart: ${acknowledged.size} ok, ${failed.size} failed, ${undetermined.size} undetermined`, Object.fromEntries(errorCodes));
    const locks = await countOnShards(cluster.shardUrls, 'select count(*) as n from accounts__locks');
    expect(locks).toEqual([0, 0, 0]);
  });
});
