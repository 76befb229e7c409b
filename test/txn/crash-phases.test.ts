import { spawn } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { BANK_ACCOUNTS, BANK_INITIAL, bankTotal } from '../support/bank.js';
import { accountsMeta } from '../support/bank-schema.js';
import type { CrashClientArgs } from '../support/crash-client.js';
import { useEngines } from '../support/engine-fixture.js';
import { expectLocksEventuallyResolved } from '../support/raw-shards.js';
import type { TestCluster } from '../support/test-cluster.js';

const CHILD = path.resolve('dist/test/support/crash-client.js');

function runChild(args: CrashClientArgs): Promise<{ signal: NodeJS.Signals | null; code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (code, signal) => resolve({ code, signal, stderr })); // after stderr is drained
  });
}

describe('a client SIGKILLed in each commit phase', () => {
  const bank = useEngines({ first: { lockWaitTimeoutMs: 15_000 } });
  let cluster: TestCluster;
  let reader: TransactionEngine;
  let trio: number[];

  beforeAll(() => {
    cluster = bank.cluster;
    reader = bank.engines[0]!;
    // One account on each shard: a primary and two secondary shards.
    const byShard = new Map<number, number>();
    for (let id = 0; id < BANK_ACCOUNTS; id++) {
      const shard = reader.shardOf(accountsMeta, { id });
      if (!byShard.has(shard)) byShard.set(shard, id);
    }
    trio = [...byShard.values()];
    expect(trio).toHaveLength(3);
  });

  const balances = async (): Promise<Map<number, { balance: number; owner: unknown }>> => {
    const tx = await reader.begin();
    const rows = await tx.getMany(accountsMeta, trio.map((id) => [id]));
    return new Map(rows.map((r) => [r.id as number, { balance: r.balance as number, owner: r.owner }]));
  };

  it.each([
    ['afterPrewritePrimary', false],
    ['afterPrewriteAll', false],
    ['afterCommitPrimary', true],
    ['midSecondaries', true],
  ] as const)('killed at %s: all-or-nothing as the primary decided, every lock resolved', async (hook, committed) => {
    const before = await balances();
    const result = await runChild({ shards: cluster.shardUrls, timestampSpec: cluster.timestampSpec, hook, lockTtlMs: 300, accounts: trio, amount: 7 });
    expect(result.signal, result.stderr).toBe('SIGKILL');

    // A whole-table read first: it meets the dead client's locks, and where the primary
    // committed it rolls them forward and re-reads just those keys.
    const scanned = await bankTotal(reader);
    expect(scanned).toEqual({ total: BANK_ACCOUNTS * BANK_INITIAL, count: BANK_ACCOUNTS });
    const after = await balances();
    const [payer, ...payees] = trio as [number, ...number[]];
    if (committed) {
      expect(after.get(payer)!.balance).toBe(before.get(payer)!.balance - 7 * payees.length);
      for (const id of payees) expect(after.get(id)!.balance).toBe(before.get(id)!.balance + 7);
      for (const id of trio) expect(after.get(id)!.owner).toBe(`crash-${hook}`);
    } else {
      expect(after).toEqual(before);
    }
    expect((await bankTotal(reader)).total).toBe(BANK_ACCOUNTS * BANK_INITIAL);
    await expectLocksEventuallyResolved(cluster.shardUrls, 'accounts__locks', async () => {
      expect((await bankTotal(reader)).total).toBe(BANK_ACCOUNTS * BANK_INITIAL);
    });
    expect(await balances()).toEqual(after);
  });
});
