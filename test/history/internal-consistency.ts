import type { Anomaly } from './anomaly.js';
import type { History, Key, Value } from './history.js';

/**
 * A transaction must read its own writes and nothing else changes under it:
 * after a read of k, later reads of k equal that read plus the transaction's
 * own appends since; before any read, a read must end with the transaction's
 * own appends so far.
 */
export function findInternalAnomalies(history: History): Anomaly[] {
  const anomalies: Anomaly[] = [];
  for (const txn of history) {
    if (txn.outcome === 'fail') continue;
    const known = new Map<Key, Value[]>();
    const ownAppends = new Map<Key, Value[]>();
    for (const op of txn.ops) {
      if (op.type === 'append') {
        ownAppends.set(op.key, [...(ownAppends.get(op.key) ?? []), op.value]);
        known.get(op.key)?.push(op.value);
        continue;
      }
      if (op.value === null) continue;
      const expected = known.get(op.key);
      const own = ownAppends.get(op.key) ?? [];
      const consistent = expected ? sameList(op.value, expected) : endsWith(op.value, own);
      if (!consistent) {
        const wanted = expected ? `[${expected.join(', ')}]` : `a list ending in [${own.join(', ')}]`;
        anomalies.push({
          type: 'internal',
          txns: [txn.id],
          key: op.key,
          description: `T${txn.id} read ${op.key} = [${op.value.join(', ')}] but its own earlier operations imply ${wanted}`,
        });
      }
      known.set(op.key, [...op.value]);
    }
  }
  return anomalies;
}

function sameList(a: readonly Value[], b: readonly Value[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function endsWith(list: readonly Value[], suffix: readonly Value[]): boolean {
  const offset = list.length - suffix.length;
  return offset >= 0 && suffix.every((v, i) => list[offset + i] === v);
}
