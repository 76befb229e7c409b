/**
 * The contract between the transaction engine (src/txn, src/shard: storage,
 * Percolator protocol, lock resolution) and the Drizzle-style client
 * (src/client: builders, typing, validation, retries). The client speaks
 * only through these types; the engine knows nothing of builders.
 *
 * Rows are plain objects keyed by the drizzle column *key* (the TS property
 * name, as in `$inferSelect`), holding JS values as drizzle maps them
 * (`column.mapFromDriverValue` applied). Keys are arrays of primary-key
 * values in primary-key column order.
 */
import type { SQL } from 'drizzle-orm';
import type { TransactionTimeoutError } from '../errors.js';
import type { Timestamp } from '../timestamp.js';
import type { GcRun } from './gc-types.js';
import type { KeyValues, Row } from '../schema/row.js';
import type { TableMeta } from '../schema/table-meta.js';
import type { RecordedReads } from './read-set-types.js';

export type { KeyValues, Row } from '../schema/row.js';

export type IsolationLevel = 'snapshot' | 'serializable';

export interface ScanRequest {
  /** A drizzle filter over the user's table; pushed into SQL on each shard, buffered writes included. */
  where?: SQL | undefined;
  /** drizzle ordering expressions (asc(col), desc(col), or columns); applied per shard and merged by the caller. */
  orderBy?: SQL[] | undefined;
  /** Per-shard row cap (the caller asks for offset + limit and merges). */
  limit?: number | undefined;
  /** Shards to read from (a filter that pins the shard key); all shards when absent. */
  shards?: readonly number[] | undefined;
  /** `for update`: lock the matching rows now (pessimistic locking read, docs/ISOLATION.md). */
  lock?: RowLockRequest | undefined;
}

/**
 * A locking read (`select ... for update`): the rows returned are the newest
 * committed ones (plus the transaction's own writes), and every key read is
 * locked until the transaction ends. Postgres's 'no key update' takes the
 * same exclusive lock here (there are no foreign keys to spare).
 */
export interface RowLockRequest {
  readonly strength: 'update' | 'no key update';
  /** Longest wait for other transactions' locks, in ms (default: the engine's lockWaitTimeoutMs; 0: do not wait). */
  readonly waitMs?: number | undefined;
}

export interface EngineTransaction {
  readonly startTs: Timestamp;
  readonly isolation: IsolationLevel;
  /** True once committed, rolled back or timed out; every method then throws TransactionClosedError (TransactionTimeoutError once timed out). */
  readonly closed: boolean;
  /** Set once the transaction outlived the engine's maxTransactionMs (its locks released): every later method throws it. */
  readonly timeoutError?: TransactionTimeoutError | undefined;

  /** Rows of `table` visible at startTs, merged with this transaction's buffered writes, filtered by `where` in Postgres. */
  select(table: TableMeta, query?: ScanRequest): Promise<Row[]>;
  /** Point reads by primary key (one statement per shard touched), buffered writes included; absent keys are omitted. */
  getMany(table: TableMeta, keys: readonly KeyValues[], options?: { lock?: RowLockRequest | undefined }): Promise<Row[]>;
  /** What this transaction read so far (keys and scanned predicates), recorded in serializable mode only, which validates it at commit. */
  readonly readSet: RecordedReads;
  /** Buffers new rows; throws UniqueViolationError if a key exists at the snapshot or in the buffer. */
  insert(table: TableMeta, rows: readonly Row[]): Promise<void>;
  /** Buffers full new images of rows (insert-or-replace by primary key). */
  put(table: TableMeta, rows: readonly Row[]): void;
  /** Buffers deletions by primary key. */
  delete(table: TableMeta, keys: readonly KeyValues[]): void;

  /** Percolator commit: prewrite, commit ts, commit primary, secondaries. Read-only transactions just close. */
  commit(): Promise<{ commitTs: Timestamp | undefined }>;
  /** Releases whatever was written or locked so far; idempotent. */
  rollback(): Promise<void>;
}

export interface BeginOptions {
  isolation?: IsolationLevel;
  /** Read-only snapshot at a given timestamp (db.asOf(ts)). Writes then throw. */
  readTs?: Timestamp;
}

export interface TransactionEngine {
  readonly shardCount: number;
  begin(options?: BeginOptions): Promise<EngineTransaction>;
  /** Index of the shard holding rows with these shard-key values (table's shard key, in order). */
  shardOf(table: TableMeta, row: Row): number;
  /** Creates/upgrades the MVCC storage of these tables on every shard; idempotent. Also registers them (see `register`). */
  migrate(tables: readonly TableMeta[]): Promise<void>;
  /**
   * Makes tables known without migrating: lock resolution must know the
   * table of any transaction's primary, including ones written by other
   * processes. Tables passed to migrate/select/writes are registered too.
   */
  register(tables: readonly TableMeta[]): void;
  /** The client's retry loop reports each retry here (metrics: percolator_retries_total{cause}). */
  recordRetry(cause: string): void;
  /**
   * Runs version GC now on every shard (it also runs on a timer, see
   * GcOptions); `force` ignores another client's run within the interval.
   */
  collectGarbage(options?: { force?: boolean }): Promise<GcRun>;
  /** Waits for background work (asynchronous secondaries), then closes the shard pools. */
  close(): Promise<void>;
}
