import type { BenchRow, BenchTable } from '../bench-table.js';
import type { KeyPicker } from '../key-picker.js';
import type { Random } from '../random.js';
import type { BenchTx } from '../systems/bench-system.js';

export const WORKLOAD_NAMES = ['bank', 'ycsb-a', 'ycsb-b', 'ycsb-c', 'ycsb-f', 'scan'] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

export interface WorkloadContext {
  /** This run's table (its name is unique per run). */
  readonly table: BenchTable;
  readonly keys: number;
  readonly picker: KeyPicker;
  /** Keys touched by one YCSB/scan update transaction (bank transfers always touch two). */
  readonly opsPerTxn: number;
  /** Bank: share of transactions that audit every balance. */
  readonly auditShare: number;
}

/** One transaction a client is about to run; `run` may be attempted several times (retries). */
export interface WorkloadTxn<T = unknown> {
  readonly kind: string;
  readonly readOnly: boolean;
  run(tx: BenchTx): Promise<T>;
  /** Called with the result of a committed attempt: a description of the anomaly it shows, if any. */
  check?(result: T): string | undefined;
}

export interface Workload {
  readonly name: WorkloadName;
  readonly summary: string;
  table(name: string): BenchTable;
  rows(context: Pick<WorkloadContext, 'keys'>, random: Random): BenchRow[];
  next(context: WorkloadContext, random: Random): WorkloadTxn;
}
