import type { TableMeta } from '../schema/table-meta.js';
import type { EngineTransaction, Row } from '../txn/engine-contract.js';
import type { IdBlocks } from './id-blocks.js';
import type { RowCache } from './row-cache.js';
import type { TableRegistry } from './table-registry.js';

/** @internal One engine transaction as the builders see it. */
export interface Session {
  readonly engineTx: EngineTransaction;
  /** Rows this transaction has read or written, by key. */
  readonly rowCache: RowCache;
}

/**
 * @internal Where a builder runs: inside a user's transaction (the same
 * session every time), or on the database (a fresh read-only snapshot for
 * reads, a fresh retried transaction for writes), or at a fixed timestamp.
 */
export interface QueryContext {
  readonly tables: TableRegistry;
  /** Serial and identity values (absent when no table has such a column). */
  readonly ids?: IdBlocks | undefined;
  shardOf(meta: TableMeta, row: Row): number;
  run<T>(mode: 'read' | 'write', work: (session: Session) => Promise<T>): Promise<T>;
}
