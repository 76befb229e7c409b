import { recordsTable } from '../bench-table.js';
import { randomText, type Random } from '../random.js';
import type { Workload, WorkloadContext, WorkloadName, WorkloadTxn } from './workload.js';

export const PAYLOAD_LENGTH = 100;
export const VALUE_RANGE = 1_000_000;

/** Shares of the YCSB operations in a mix; they sum to 1. */
export interface YcsbMix {
  read: number;
  update: number;
  readModifyWrite: number;
}

/**
 * A YCSB core workload over `records` (id, value, 100-character payload):
 * each transaction performs `--ops-per-txn` operations of one kind on as
 * many keys, drawn uniformly or Zipfian (YCSB's default is one operation).
 */
export function ycsbWorkload(name: WorkloadName, mix: YcsbMix): Workload {
  const describe = [
    mix.read && `${mix.read * 100}% read`,
    mix.update && `${mix.update * 100}% update`,
    mix.readModifyWrite && `${mix.readModifyWrite * 100}% read-modify-write`,
  ].filter(Boolean);
  return {
    name,
    summary: `YCSB ${name.slice(5).toUpperCase()}: ${describe.join(', ')}`,
    table: recordsTable,
    rows: recordRows,
    next(context, random) {
      const dice = random.next();
      const keys = context.picker.pick(random, context.opsPerTxn);
      if (dice < mix.read) return readRecords(context, keys);
      if (dice < mix.read + mix.update) return updateRecords(context, keys, random);
      return readModifyWrite(context, keys, random);
    },
  };
}

export function recordRows({ keys }: Pick<WorkloadContext, 'keys'>, random: Random) {
  return Array.from({ length: keys }, (_, id) => ({ id, value: random.int(VALUE_RANGE), payload: randomText(random, PAYLOAD_LENGTH) }));
}

export function readRecords({ table }: WorkloadContext, keys: number[]): WorkloadTxn {
  return { kind: 'read', readOnly: true, run: (tx) => tx.get(table, keys) };
}

/** YCSB's update is a blind write of one field. */
export function updateRecords({ table }: WorkloadContext, keys: number[], random: Random): WorkloadTxn {
  const updates = keys.map((id) => ({ id, set: { payload: randomText(random, PAYLOAD_LENGTH) } }));
  return { kind: 'update', readOnly: false, run: (tx) => tx.update(table, updates) };
}

export function readModifyWrite({ table }: WorkloadContext, keys: number[], random: Random): WorkloadTxn {
  const payloads = keys.map(() => randomText(random, PAYLOAD_LENGTH));
  return {
    kind: 'read-modify-write',
    readOnly: false,
    async run(tx) {
      const rows = await tx.get(table, keys, { forUpdate: true });
      await tx.update(
        table,
        rows.map((r, i) => ({ id: r.id, set: { value: Number(r.value) + 1, payload: payloads[i]! } })),
      );
    },
  };
}
