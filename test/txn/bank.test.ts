import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { isRetryable } from '../../src/errors.js';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { BANK_ACCOUNTS, BANK_INITIAL, bankTotal, transfer } from '../support/bank.js';
import { accountsMeta } from '../support/bank-schema.js';
import { useEngines } from '../support/engine-fixture.js';

describe('bank transfers across 3 shards', () => {
  const registry = new Registry();
  const bank = useEngines({ tables: [accountsMeta], defaults: { registry }, first: { lockTtlMs: 2000 } });
  let engines: TransactionEngine[];

  beforeAll(() => {
    // Two independent clients, as two application processes would be.
    engines = [bank.engines[0]!, bank.engine({ lockTtlMs: 2000 })];
  });

  it('keeps the total in every concurrent snapshot and at the end', async () => {
    const expected = BANK_ACCOUNTS * BANK_INITIAL;
    let committed = 0;
    let conflicts = 0;
    const sums: number[] = [];
    const deadline = Date.now() + 8000;
    const writer = async (w: number) => {
      const engine = engines[w % 2]!;
      for (let i = 0; i < 60 && Date.now() < deadline; i++) {
        const from = Math.floor(Math.random() * BANK_ACCOUNTS);
        const to = (from + 1 + Math.floor(Math.random() * (BANK_ACCOUNTS - 1))) % BANK_ACCOUNTS;
        try {
          await transfer(engine, from, to, 1 + Math.floor(Math.random() * 20));
          committed++;
        } catch (error) {
          if (!isRetryable(error)) throw error;
          conflicts++;
        }
      }
    };
    const reader = async (r: number) => {
      for (let i = 0; i < 40 && Date.now() < deadline; i++) {
        const { total, count } = await bankTotal(engines[r % 2]!);
        expect(count).toBe(BANK_ACCOUNTS);
        sums.push(total);
      }
    };
    await Promise.all([...[0, 1, 2, 3, 4, 5].map(writer), ...[0, 1].map(reader)]);
    for (const e of engines) await e.close().catch(() => {});
    engines = [bank.engine(), bank.engine()];
    expect(committed).toBeGreaterThan(10);
    expect(sums.length).toBeGreaterThan(5);
    expect(new Set(sums)).toEqual(new Set([expected]));
    expect((await bankTotal(engines[0]!)).total).toBe(expected);
    // Concurrent transfers of a client shared statements (shared-statements.ts).
    const total = async (name: string) =>
      Object.fromEntries((await registry.getSingleMetric(name)!.get()).values.map((v) => [String(v.labels.kind), v.value]));
    const [statements, requests] = [await total('percolator_shared_statements_total'), await total('percolator_shared_statement_requests_total')];
    for (const kind of ['prewrite', 'commit']) expect(requests[kind]).toBeGreaterThan(statements[kind]!);
    console.log(`bank: ${committed} transfers committed, ${conflicts} conflicts, ${sums.length} consistent sums; transactions per statement: ${Object.keys(statements).map((k) => `${k} ${(requests[k]! / statements[k]!).toFixed(2)}`).join(', ')}`);
  });
});
