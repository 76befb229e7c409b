import { describeTable, shardOf } from '../src/internal.js';
import type { BenchTable } from './bench-table.js';
import type { ShardOf } from './key-picker.js';

/**
 * Row placement shared by every system of a run, so that each draws the
 * same key sequence and `--cross-shard-fraction` means the same thing for
 * all of them: it is percolator's own placement (a hash of the shard key),
 * `2pc` places its plain rows with it, `local` ignores it (one database).
 */
export function placementOf(table: BenchTable, shardCount: number): ShardOf {
  const meta = describeTable(table.drizzle);
  return (id) => shardOf(meta, { id }, shardCount);
}
