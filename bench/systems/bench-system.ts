import type { BenchRow, BenchTable, BenchValue } from '../bench-table.js';
import type { CpuProcess } from '../cpu-accounting.js';

export const SYSTEM_NAMES = ['local', 'local-serializable', '2pc', 'percolator', 'percolator-serializable', 'percolator-locking'] as const;
export type SystemName = (typeof SYSTEM_NAMES)[number];

/** Rows whose `column` lies in [from, to]; every row when the range is absent. */
export interface ColumnRange {
  readonly column: string;
  readonly from: number;
  readonly to: number;
}

export interface RowUpdate {
  readonly id: number;
  readonly set: Readonly<Record<string, BenchValue>>;
}

/**
 * What a workload can do inside one transaction, whatever the system. Reads
 * come before writes in every workload, so systems may buffer writes until
 * commit (and the SQL baselines do, to send them with COMMIT/PREPARE).
 */
export interface BenchTx {
  /** Point reads by id. `forUpdate`: the transaction will write these rows back (2pc locks them: SELECT ... FOR UPDATE). */
  get(table: BenchTable, ids: readonly number[], options?: { forUpdate?: boolean }): Promise<BenchRow[]>;
  /** A filtered read over every shard (one snapshot where the system has one). */
  scan(table: BenchTable, range?: ColumnRange): Promise<BenchRow[]>;
  update(table: BenchTable, updates: readonly RowUpdate[]): Promise<void>;
}

export interface AttemptOptions {
  readonly readOnly: boolean;
}

/**
 * One system under test: a way to run a workload's transactions. `attempt`
 * runs the body once as one transaction and rejects with the system's own
 * error when it aborts; the runner asks `abortCause` whether (and why) the
 * failure is a retryable abort, and retries.
 */
export interface BenchSystem {
  readonly name: SystemName;
  /** Processes whose CPU time this system's transactions cost (besides the benchmark client itself). */
  readonly processes: readonly CpuProcess[];
  /** Creates the table (dropping a leftover of the same name) and loads the rows. */
  createTable(table: BenchTable, rows: readonly BenchRow[]): Promise<void>;
  dropTable(table: BenchTable): Promise<void>;
  /** Uses a table another process created and loaded (a client process of --processes). */
  attach(table: BenchTable): Promise<void>;
  attempt<T>(body: (tx: BenchTx) => Promise<T>, options: AttemptOptions): Promise<T>;
  /** Cause of a retryable abort (`serialization`, `write-conflict:locked`, ...); undefined when the error is not retryable. */
  abortCause(error: unknown): string | undefined;
  /** Flushes the server's dirty pages so one system's checkpoint does not land in the next one's measurement. */
  checkpoint(): Promise<void>;
  close(): Promise<void>;
  /** --rebalance-at (systems that can grow online): adds `url` as a shard and rebalances onto it. */
  addShardAndRebalance?(url: string): Promise<{ slotsMoved: number; rowsCopied: number }>;
  /** Live rows per shard (in shard id order), counted. */
  rowsPerShard?(): Promise<number[]>;
}
