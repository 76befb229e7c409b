import type { BenchTable } from './bench-table.js';
import { keyDistribution } from './key-distribution.js';
import { KeyPicker, type ShardOf } from './key-picker.js';
import { placementOf } from './placement.js';
import type { Workload, WorkloadContext } from './workloads/workload.js';

/** What a run's key choices depend on besides the workload; the same in every client process of the run. */
export interface ContextSettings {
  /** Unique per run: the table's physical name. */
  readonly tableName: string;
  readonly shards: number;
  readonly keys: number;
  readonly zipf: number;
  readonly crossShardFraction: number | undefined;
  readonly opsPerTxn: number;
  readonly auditShare: number;
}

export interface ContextConfig extends ContextSettings {
  readonly workload: Workload;
}

/** The run's table, its placement over the shards and the workload's view of both. */
export function workloadContext(config: ContextConfig): { table: BenchTable; shardOf: ShardOf; context: WorkloadContext } {
  const table = config.workload.table(config.tableName);
  const shardOf = placementOf(table, config.shards);
  const context: WorkloadContext = {
    table,
    keys: config.keys,
    picker: new KeyPicker(keyDistribution(config.keys, config.zipf), shardOf, config.shards, config.crossShardFraction),
    opsPerTxn: config.opsPerTxn,
    auditShare: config.auditShare,
  };
  return { table, shardOf, context };
}
