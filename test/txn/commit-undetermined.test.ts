import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { CommitUndeterminedError, TransactionAbortedError } from '../../src/errors.js';
import type { TimestampSource } from '../../src/oracle/timestamp-source.js';
import type { CommitHooks } from '../../src/txn/commit-hooks.js';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import { BANK_ACCOUNTS, BANK_INITIAL, bankTotal } from '../support/bank.js';
import { accountsMeta, bankTables } from '../support/bank-schema.js';
import { useEngines } from '../support/engine-fixture.js';
import { expectLocksEventuallyResolved, signalServerTree } from '../support/raw-shards.js';
import type { TestCluster } from '../support/test-cluster.js';

describe('commitPrimary whose outcome the client cannot learn', () => {
  const bank = useEngines({ first: { lockWaitTimeoutMs: 15_000 } });
  let cluster: TestCluster;
  let tso: TimestampSource;
  let reader: TransactionEngine;

  beforeAll(() => {
    ({ cluster, tso } = bank);
    reader = bank.engines[0]!;
  });

  const transferAll = async (hooks: CommitHooks, statementTimeoutMs = 30_000): Promise<unknown> => {
    const engine = createTransactionEngine({
      shards: cluster.shardUrls,
      timestampSource: tso,
      registry: new Registry(),
      lockTtlMs: 300,
      hooks,
      pool: { statementTimeoutMs, connectTimeoutMs: 1000 },
    });
    engine.register(bankTables);
    try {
      const tx = await engine.begin();
      const rows = await tx.getMany(accountsMeta, [[0], [1], [2], [3]]);
      tx.put(accountsMeta, rows.map((r) => ({ ...r, balance: (r.balance as number) + (r.id === 0 ? -30 : 10), owner: 'maybe' })));
      await tx.commit();
      return undefined;
    } catch (error) {
      return error;
    } finally {
      await engine.close();
    }
  };

  /** All four accounts moved together, or none did; the total holds; no lock is left. */
  const expectAllOrNothing = async (): Promise<'committed' | 'absent'> => {
    const tx = await reader.begin();
    const owners = new Set((await tx.getMany(accountsMeta, [[0], [1], [2], [3]])).map((r) => r.owner));
    expect(owners.size).toBe(1);
    await expectLocksEventuallyResolved(cluster.shardUrls, 'accounts__locks', async () => {
      expect((await bankTotal(reader)).total).toBe(BANK_ACCOUNTS * BANK_INITIAL);
    });
    return owners.has('maybe') ? 'committed' : 'absent';
  };

  it('the primary shard crashes just before commitPrimary: the commit cannot be sent, a definite abort, then all-or-nothing', async () => {
    let crashed = -1;
    const error = await transferAll({
      async beforeCommitPrimary(info) {
        crashed = info.primaryShard;
        await cluster.shards.servers[info.primaryShard]!.kill();
      },
    });
    // The client saw its connections close; no new one could be opened: nothing of the commit was sent (commit-primary.ts).
    expect(error).toBeInstanceOf(TransactionAbortedError);
    await cluster.shards.servers[crashed]!.start();
    expect(await expectAllOrNothing()).toBe('absent');
  });

  it('the primary shard is paused during commitPrimary (statement timeout): CommitUndeterminedError, then all-or-nothing', async () => {
    let paused: number | undefined;
    let error: unknown;
    try {
      error = await transferAll(
        {
          beforeCommitPrimary(info) {
            paused = cluster.shards.servers[info.primaryShard]!.pid;
            signalServerTree(paused, 'SIGSTOP');
          },
        },
        1000,
      );
    } finally {
      // Never leave a stopped server behind, whatever happened (a stopped tree outlives the test run).
      signalServerTree(paused, 'SIGCONT');
    }
    expect(error).toBeInstanceOf(CommitUndeterminedError);
    // Postgres runs the statement once resumed: the outcome really was unknown to the client.
    const outcome = await expectAllOrNothing();
    console.log(`paused commitPrimary: transaction ${outcome}`);
  });
});
