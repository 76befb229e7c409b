import { recordsTable } from '../bench-table.js';
import type { Workload, WorkloadTxn } from './workload.js';
import { recordRows, VALUE_RANGE } from './ycsb-mix.js';

/** Share of scans; the rest are updates that move rows in and out of the scanned ranges. */
export const SCAN_SHARE = 0.8;
/** Rows one scan matches on average. */
export const ROWS_PER_SCAN = 10;

/**
 * Filtered reads across every shard (`value BETWEEN lo AND hi`, about
 * ROWS_PER_SCAN rows; one snapshot where the system has one), mixed with
 * updates of `value` on `--ops-per-txn` keys.
 */
export const scan: Workload = {
  name: 'scan',
  summary: `${SCAN_SHARE * 100}% range scans of ~${ROWS_PER_SCAN} rows over all shards, ${(1 - SCAN_SHARE) * 100}% updates of the scanned column`,
  table: recordsTable,
  rows: recordRows,
  next(context, random): WorkloadTxn {
    const { table } = context;
    if (random.next() < SCAN_SHARE) {
      const width = Math.max(1, Math.round((VALUE_RANGE * ROWS_PER_SCAN) / context.keys));
      const from = random.int(VALUE_RANGE);
      return { kind: 'scan', readOnly: true, run: (tx) => tx.scan(table, { column: 'value', from, to: from + width - 1 }) };
    }
    const updates = context.picker.pick(random, context.opsPerTxn).map((id) => ({ id, set: { value: random.int(VALUE_RANGE) } }));
    return { kind: 'update', readOnly: false, run: (tx) => tx.update(table, updates) };
  },
};
