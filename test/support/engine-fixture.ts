import { Registry } from 'prom-client';
import { afterAll, beforeAll } from 'vitest';
import type { TimestampSource } from '../../src/oracle/timestamp-source.js';
import type { TableMeta } from '../../src/schema/table-meta.js';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { createTransactionEngine, type TransactionEngineOptions } from '../../src/txn/transaction-engine.js';
import { seedBank } from './bank.js';
import { bankTables } from './bank-schema.js';
import { startTestCluster, type TestCluster } from './test-cluster.js';

export interface Engines {
  readonly cluster: TestCluster;
  readonly tso: TimestampSource;
  /** Every engine made so far; the first one migrated (and seeded) the tables. */
  readonly engines: readonly TransactionEngine[];
  /** A new engine (a new "process") on the cluster, the tables registered, closed after the file's tests. */
  engine(options?: Partial<TransactionEngineOptions>): TransactionEngine;
}

export interface EnginesOptions {
  /** Throwaway shards to start (default 3). */
  readonly shards?: number;
  /** Extra `-c name=value` settings of the shards. */
  readonly shardSettings?: Record<string, string | number>;
  /** Tables the first engine migrates and every engine registers (default: the bank's accounts and transfers). */
  readonly tables?: readonly TableMeta[];
  /** Rows the first engine writes after migrating (default: the bank's accounts, seedBank); false: none. */
  readonly seed?: ((engine: TransactionEngine) => Promise<void>) | false;
  /** Options of every engine, the first included; `engine(options)` adds its own over them. */
  readonly defaults?: Partial<TransactionEngineOptions>;
  /** Options of the first engine only (`engines[0]`, which migrates and seeds), over `defaults`. */
  readonly first?: Partial<TransactionEngineOptions>;
}

/**
 * Throwaway shards and a real oracle for one test file, the tables migrated
 * and seeded by a first engine (`engines[0]`); every engine made by
 * `engine()` is closed after the file's tests, then the oracle client and
 * the cluster. Call at the top of a describe block: its own beforeAll hooks
 * run after this setup, its afterAll hooks before this teardown.
 */
export function useEngines(options: EnginesOptions = {}): Engines {
  const tables = options.tables ?? bankTables;
  const seed = options.seed ?? seedBank;
  let cluster: TestCluster | undefined;
  let tso: TimestampSource | undefined;
  const engines: TransactionEngine[] = [];
  const fixture: Engines = {
    get cluster() {
      return cluster!;
    },
    get tso() {
      return tso!;
    },
    engines,
    engine(engineOptions = {}) {
      const e = createTransactionEngine({ shards: cluster!.shardUrls, timestampSource: tso!, registry: new Registry(), ...options.defaults, ...engineOptions });
      e.register(tables);
      engines.push(e);
      return e;
    },
  };
  beforeAll(async () => {
    cluster = await startTestCluster({ shards: options.shards ?? 3, shardSettings: options.shardSettings });
    tso = await cluster.createTimestampSource();
    await fixture.engine(options.first).migrate(tables);
    if (seed) await seed(engines[0]!);
  });
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.close()));
    await tso?.close();
    await cluster?.destroy();
  });
  return fixture;
}

/** useEngines with the bank tables migrated and seeded, on `shards` shards. */
export function useBankEngines(shards: number, defaults: Partial<TransactionEngineOptions> = {}): Engines {
  return useEngines({ shards, defaults });
}
