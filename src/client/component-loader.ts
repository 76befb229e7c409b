import type { Registry } from 'prom-client';
import { SchemaError } from '../errors.js';
import type { Logger } from '../logger.js';
import { createOracleClient } from '../oracle/oracle-client.js';
import type { TimestampSource } from '../oracle/timestamp-source.js';
import type { TransactionEngine } from '../txn/engine-contract.js';

/** @internal What percolator() hands the engine factory. */
export interface EngineOptions {
  shards: readonly string[];
  timestampSource: TimestampSource;
  logger: Logger;
  registry: Registry;
  pool?: PoolOptions | undefined;
  lockTtlMs?: number | undefined;
  lockWaitTimeoutMs?: number | undefined;
}

/** Connection pool of each shard. */
export interface PoolOptions {
  /** Most connections per shard. */
  max?: number;
  /** Close idle connections after this many ms. */
  idleTimeoutMillis?: number;
}

// The engine is built in parallel with the client; until it lands on main it
// is loaded by name so that the tree compiles.
const ENGINE_MODULE: string = '../txn/transaction-engine.js';

/** @internal */
export async function createEngine(options: EngineOptions): Promise<TransactionEngine> {
  const module = (await import(ENGINE_MODULE).catch((error: unknown) => {
    throw new SchemaError(`the transaction engine is not available (${ENGINE_MODULE})`, { cause: error });
  })) as { createTransactionEngine(options: EngineOptions): TransactionEngine | Promise<TransactionEngine> };
  return module.createTransactionEngine(options);
}

/** @internal */
export function createOracle(options: { addresses: readonly string[]; deadlineMs: number; logger: Logger; registry: Registry }): TimestampSource {
  return createOracleClient({ ...options, addresses: [...options.addresses] });
}
