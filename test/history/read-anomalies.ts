import type { Anomaly } from './anomaly.js';
import type { AppendIndex } from './append-index.js';
import type { History } from './history.js';
import type { ObservedRead } from './version-order.js';

/**
 * Anomalies visible in a single read, without any graph: values nobody
 * wrote, values read twice, values of aborted transactions (G1a) and states
 * another transaction went on to overwrite itself (G1b).
 */
export function findReadAnomalies(reads: readonly ObservedRead[], appends: AppendIndex): Anomaly[] {
  const anomalies: Anomaly[] = [];
  for (const { txn, op, external } of reads) {
    const seen = new Set<number>();
    for (const value of op.value) {
      if (seen.has(value)) {
        anomalies.push({
          type: 'duplicate-elements',
          txns: [txn.id],
          key: op.key,
          description: `T${txn.id} read ${op.key} = [${op.value.join(', ')}] with ${value} twice`,
        });
      }
      seen.add(value);
      const writer = appends.writer(op.key, value);
      if (!writer) {
        anomalies.push({
          type: 'garbage-read',
          txns: [txn.id],
          key: op.key,
          description: `T${txn.id} read ${value} in ${op.key}, which no transaction appended`,
        });
      } else if (writer.outcome === 'fail') {
        anomalies.push({
          type: 'G1a',
          txns: [txn.id, writer.id],
          key: op.key,
          description: `T${txn.id} read ${value} in ${op.key}, appended by aborted T${writer.id}`,
        });
      }
    }
    const last = external[external.length - 1];
    if (last === undefined) continue;
    const site = appends.site(op.key, last);
    if (site && !site.last && site.txn.outcome !== 'fail') {
      anomalies.push({
        type: 'G1b',
        txns: [txn.id, site.txn.id],
        key: op.key,
        description: `T${txn.id} read ${op.key} ending in ${last}, an intermediate append of T${site.txn.id} (which appended more to ${op.key} afterwards)`,
      });
    }
  }
  return anomalies;
}

/**
 * A final read runs after everything else finished: every committed append
 * to a key it reads must be there. (Info appends may or may not be.)
 */
export function findLostAppends(history: History, appends: AppendIndex): Anomaly[] {
  const anomalies: Anomaly[] = [];
  for (const txn of history) {
    if (!txn.final || txn.outcome !== 'ok') continue;
    for (const op of txn.ops) {
      if (op.type !== 'read' || op.value === null) continue;
      const present = new Set(op.value);
      for (const [value, site] of appends.appendsTo(op.key)) {
        if (site.txn.outcome !== 'ok' || present.has(value)) continue;
        anomalies.push({
          type: 'lost-append',
          txns: [site.txn.id, txn.id],
          key: op.key,
          description: `committed T${site.txn.id} appended ${value} to ${op.key}, missing from final read [${op.value.join(', ')}] (T${txn.id})`,
        });
      }
    }
  }
  return anomalies;
}
