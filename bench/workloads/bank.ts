import { accountsTable, type BenchRow, type BenchTable } from '../bench-table.js';
import type { Workload, WorkloadTxn } from './workload.js';

export const INITIAL_BALANCE = 1000;
/** Default share of transactions that audit every balance (each reads all rows); `--audit-share`. */
export const AUDIT_SHARE = 0.05;

/**
 * Transfers between random accounts spread over every shard, plus audits
 * that read every balance in one transaction. Transfers keep the total
 * constant, so an audit that commits with another total saw part of a
 * transfer: an anomaly (2pc's per-shard READ COMMITTED reads can; a global
 * snapshot cannot).
 */
export const bank: Workload = {
  name: 'bank',
  summary: 'two-account transfers + audits summing every balance (wrong total = anomaly)',
  table: accountsTable,
  rows: ({ keys }) => Array.from({ length: keys }, (_, id) => ({ id, balance: INITIAL_BALANCE })),
  next(context, random): WorkloadTxn {
    if (random.next() < context.auditShare) return audit(context.table, context.keys);
    const [from, to] = context.picker.pick(random, 2) as [number, number];
    return transfer(context.table, from, to, 1 + random.int(100));
  },
};

export function transfer(table: BenchTable, from: number, to: number, amount: number): WorkloadTxn {
  return {
    kind: 'transfer',
    readOnly: false,
    async run(tx) {
      const rows = await tx.get(table, [from, to], { forUpdate: true });
      const balance = (id: number): number => Number(rows.find((r) => r.id === id)?.balance ?? Number.NaN);
      await tx.update(table, [
        { id: from, set: { balance: balance(from) - amount } },
        { id: to, set: { balance: balance(to) + amount } },
      ]);
    },
  };
}

export function audit(table: BenchTable, keys: number): WorkloadTxn<BenchRow[]> {
  return {
    kind: 'audit',
    readOnly: true,
    run: (tx) => tx.scan(table),
    check(rows) {
      const total = rows.reduce((sum, r) => sum + Number(r.balance), 0);
      if (rows.length !== keys) return `audit saw ${rows.length} accounts, expected ${keys}`;
      if (total !== keys * INITIAL_BALANCE) return `audit saw total ${total}, expected ${keys * INITIAL_BALANCE}`;
      return undefined;
    },
  };
}
