import { Registry } from 'prom-client';
import { afterAll, beforeAll } from 'vitest';
import type { TimestampSource } from '../../src/oracle/timestamp-source.js';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { createTransactionEngine, type TransactionEngineOptions } from '../../src/txn/transaction-engine.js';
import { seedBank } from './bank.js';
import { bankTables } from './bank-schema.js';
import { startTestCluster, type TestCluster } from './test-cluster.js';

export interface BankEngines {
  readonly cluster: TestCluster;
  readonly tso: TimestampSource;
  /** Every engine made so far; the first one migrated and seeded the bank. */
  readonly engines: readonly TransactionEngine[];
  /** A new engine (a new "process") on the cluster, closed after the file's tests. */
  engine(options?: Partial<TransactionEngineOptions>): TransactionEngine;
}

/**
 * Throwaway shards and oracle for one test file, the bank tables migrated
 * and seeded; engines made by `engine()` are closed afterwards. Call at the
 * top of a describe block.
 */
export function useBankEngines(shards: number, defaults: Partial<TransactionEngineOptions> = {}): BankEngines {
  let cluster: TestCluster | undefined;
  let tso: TimestampSource | undefined;
  const engines: TransactionEngine[] = [];
  const fixture: BankEngines = {
    get cluster() {
      return cluster!;
    },
    get tso() {
      return tso!;
    },
    engines,
    engine(options = {}) {
      const e = createTransactionEngine({ shards: cluster!.shardUrls, timestampSource: tso!, registry: new Registry(), ...defaults, ...options });
      e.register(bankTables);
      engines.push(e);
      return e;
    },
  };
  beforeAll(async () => {
    cluster = await startTestCluster({ shards });
    tso = await cluster.createTimestampSource();
    await fixture.engine().migrate(bankTables);
    await seedBank(engines[0]!);
  });
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.close()));
    await tso?.close();
    await cluster?.destroy();
  });
  return fixture;
}
