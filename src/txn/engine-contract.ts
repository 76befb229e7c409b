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
import type { MigrateOptions, MigrateResult } from '../shard/migrate.js';
import type { Placement } from './placement.js';
import type { SQL } from 'drizzle-orm';
import type { TransactionTimeoutError } from '../errors.js';
import type { Timestamp } from '../timestamp.js';
import type { GcRun } from './gc-types.js';
import type { KeyValues, Row } from '../schema/row.js';
import type { ColumnMeta, IndexMeta, TableMeta } from '../schema/table-meta.js';
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
  /** `distinct on` these expressions (orderBy's leading ones, without direction): each shard keeps the first row per value; the caller merges and keeps the first again. */
  distinctOn?: SQL[] | undefined;
  /** Shards to read from (a filter that pins the shard key); all shards when absent. */
  shards?: readonly number[] | undefined;
  /** `for update`: lock the matching rows now (pessimistic locking read, docs/ISOLATION.md). */
  lock?: RowLockRequest | undefined;
  /** A locking read only: find the rows to lock through this index's entries (index-candidates.ts) instead of scanning the rows. */
  through?: IndexCandidates | undefined;
}

/** An index a locking read finds its rows through, and the part of its filter the entries answer (over the table's columns). */
export interface IndexCandidates {
  readonly index: IndexMeta;
  readonly where: SQL | undefined;
}

/**
 * A read of expressions over the rows a scan with the same filter would
 * return (aggregates, group columns, distinct values, computed new values),
 * evaluated on each shard at the snapshot, buffered writes included, pending
 * locks resolved as for a scan. In serializable mode the filter is recorded
 * so that validation sees rows entering or leaving the read set.
 */
export interface ProjectionRequest {
  /** A drizzle filter over the user's table, as for a scan. */
  where?: SQL | undefined;
  /** Outputs: expressions over the table's columns (drizzle SQL) or aggregates; each result row holds their raw driver values, in order. */
  select: readonly (SQL | AggregateTerm)[];
  groupBy?: readonly SQL[] | undefined;
  /** Run on each shard's groups: only correct when every group lives on one shard (the caller's business). */
  having?: SQL | undefined;
  /** `select distinct` of the outputs, per shard. */
  distinct?: boolean | undefined;
  /** Per output (aligned with `select`), a column the value is assigned to: converted to its type as an update's assignment would be. */
  assignTo?: readonly (ColumnMeta | undefined)[] | undefined;
  /** Shards to read from; all shards when absent. */
  shards?: readonly number[] | undefined;
}

/**
 * An aggregate of a projected read, computed per shard (per group): the
 * caller combines the shards' partial results. `distinct-values` is the
 * argument's distinct non-null values, as text (`text[]`).
 */
export interface AggregateTerm {
  readonly aggregate: 'count' | 'sum' | 'min' | 'max' | 'distinct-values';
  /** The aggregated expression (drizzle SQL over the table's columns); absent for count(*). */
  readonly argument?: SQL | undefined;
  /** min/max of a string: compared in code-point order (collate "C"), the order the client merges in. */
  readonly codePointOrder?: boolean | undefined;
}

/**
 * A join of tables that live together: they share the shard key and every
 * join equates it, so each shard joins its own rows (one statement per
 * shard, at the snapshot, buffered writes included, pending locks resolved
 * as for a scan). The caller checks the colocation; the engine trusts it.
 */
export interface JoinRequest {
  /** The `from` table first, then each joined table with how it joins. */
  readonly tables: readonly JoinedTable[];
  /** A drizzle filter over the joined rows (columns of any of the tables). */
  readonly where?: SQL | undefined;
  /** drizzle ordering expressions over the joined rows; per shard, merged by the caller. */
  readonly orderBy?: readonly SQL[] | undefined;
  /** Per-shard cap on joined rows (the caller asks for offset + limit and merges). */
  readonly limit?: number | undefined;
  /** Shards to read from; all shards when absent. */
  readonly shards?: readonly number[] | undefined;
}

export interface JoinedTable {
  readonly table: TableMeta;
  readonly join?: { readonly kind: 'inner' | 'left'; readonly on: SQL } | undefined;
  /**
   * A filter over this table alone that every row of it in the result
   * passes (the where's or its own `on`'s conjuncts over it): the locks
   * met and, in serializable mode, the predicate recorded for the table.
   */
  readonly filter?: SQL | undefined;
}

/** A joined row: per table of the request (in order), its row, or null where a left join found none. */
export type JoinedRow = (Row | null)[];

/** One output row of a projected read: the raw driver values of its expressions, in order. */
export type ProjectedRow = unknown[];

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
  /** Expressions over the rows visible at startTs (own writes included), per shard; rows of all shards, in no particular order. */
  project(table: TableMeta, request: ProjectionRequest): Promise<ProjectedRow[]>;
  /** A join of colocated tables, each shard joining its own rows; rows of all shards, each shard's in the request's order. */
  join(request: JoinRequest): Promise<JoinedRow[]>;
  /** Point reads by primary key (one statement per shard touched), buffered writes included; absent keys are omitted. */
  getMany(table: TableMeta, keys: readonly KeyValues[], options?: { lock?: RowLockRequest | undefined }): Promise<Row[]>;
  /** The indexes of `table` this transaction's reads may use: complete on every shard (an index being built over existing rows is not), from a timestamp at or below its snapshot; none once it holds locked rows of the table (their newest images are not among the entries at its snapshot). */
  usableIndexes(table: TableMeta): Promise<readonly IndexMeta[]>;
  /** What this transaction read so far (keys and scanned predicates), recorded in serializable mode only, which validates it at commit. */
  readonly readSet: RecordedReads;
  /** Buffers new rows; throws UniqueViolationError if a key, or a value a unique index holds, exists at the snapshot or in the buffer. */
  insert(table: TableMeta, rows: readonly Row[]): Promise<void>;
  /**
   * Buffers full new images of rows (insert-or-replace by primary key).
   * For a table with indexes, `previous` (aligned with `rows`) gives each
   * row's image as this transaction read it (null: absent), so that its old
   * index entries can be deleted without reading it again; rows without it
   * are read at the snapshot before commit (index-writes.ts).
   */
  put(table: TableMeta, rows: readonly Row[], options?: WriteOptions): void;
  /** Buffers deletions by primary key; `previous` as for put. */
  delete(table: TableMeta, keys: readonly KeyValues[], options?: WriteOptions): void;

  /** Percolator commit: prewrite, commit ts, commit primary, secondaries. Read-only transactions just close. */
  commit(): Promise<{ commitTs: Timestamp | undefined }>;
  /** Releases whatever was written or locked so far; idempotent. */
  rollback(): Promise<void>;
}

/** What a writer may tell the engine about the rows it overwrites. */
export interface WriteOptions {
  /** Per row (aligned with the rows or keys), its image as the transaction read it, null if absent; undefined entries are unknown. */
  readonly previous?: readonly (Row | null | undefined)[] | undefined;
}

export interface BeginOptions {
  isolation?: IsolationLevel;
  /** Read-only snapshot at a given timestamp (db.asOf(ts)). Writes then throw. */
  readTs?: Timestamp;
  /** With readTs: every read runs on a standby of its shard caught up with the primary (standby-pools.ts). */
  standby?: boolean;
}

export interface TransactionEngine {
  readonly shardCount: number;
  /** The placement map rows are placed by, and its refresh (a shard refused a slot: PlacementChangedError). */
  readonly placement: Placement;
  begin(options?: BeginOptions): Promise<EngineTransaction>;
  /** Index of the shard holding rows with these shard-key values (table's shard key, in order). */
  shardOf(table: TableMeta, row: Row): number;
  /**
   * Creates/upgrades the MVCC storage of these tables on every shard, online
   * (columns added and dropped, indexes built and dropped, tables dropped
   * when asked: src/shard/migrate.ts); idempotent. Also registers them (see `register`).
   */
  migrate(tables: readonly TableMeta[], options?: MigrateOptions): Promise<MigrateResult>;
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
