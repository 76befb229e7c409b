import type { Anomaly } from './anomaly.js';
import type { History, Key, ReadOp, Txn, Value } from './history.js';

/** A read a committed transaction made, with what it tells about the database. */
export interface ObservedRead {
  readonly txn: Txn;
  readonly op: ReadOp & { readonly value: readonly Value[] };
  /**
   * The part of the list that came from other transactions: the read minus
   * the reader's own appends at its end. This is the state it read from.
   */
  readonly external: readonly Value[];
}

/**
 * Reads that can be trusted: those of committed transactions. A failed
 * transaction's reads say nothing, and an info transaction's reads are
 * ignored as Elle does (it may never have run to the end).
 */
export function observedReads(history: History): ObservedRead[] {
  const reads: ObservedRead[] = [];
  for (const txn of history) {
    if (txn.outcome !== 'ok') continue;
    const own = new Set<string>();
    for (const op of txn.ops) {
      if (op.type === 'append') own.add(`${op.key}\u0000${op.value}`);
      else if (op.value !== null) {
        const value = op.value;
        let end = value.length;
        while (end > 0 && own.has(`${op.key}\u0000${value[end - 1]}`)) end -= 1;
        reads.push({ txn, op: { ...op, value }, external: value.slice(0, end) });
      }
    }
  }
  return reads;
}

export interface VersionOrders {
  /** Per key, the order in which appends took effect: the longest read, which every other read must prefix. */
  readonly orders: ReadonlyMap<Key, readonly Value[]>;
  /** Reads that are not a prefix of their key's order: they give no position, so no read-write edge. */
  readonly incompatible: ReadonlySet<ObservedRead>;
  readonly anomalies: readonly Anomaly[];
}

/**
 * Infers each key's version order from the reads. Appends are only ever
 * added at the end of a list, so every state of a key is a prefix of every
 * later state: all reads of a key must be prefixes of the longest one.
 * Anything else means an append was lost or reordered.
 */
export function inferVersionOrders(reads: readonly ObservedRead[]): VersionOrders {
  const byKey = new Map<Key, ObservedRead[]>();
  for (const r of reads) {
    const list = byKey.get(r.op.key) ?? [];
    list.push(r);
    byKey.set(r.op.key, list);
  }
  const orders = new Map<Key, readonly Value[]>();
  const incompatible = new Set<ObservedRead>();
  const anomalies: Anomaly[] = [];
  for (const [key, keyReads] of byKey) {
    const longest = keyReads.reduce((a, b) => (b.op.value.length > a.op.value.length ? b : a));
    const order = longest.op.value;
    orders.set(key, order);
    for (const r of keyReads) {
      if (isPrefix(r.op.value, order)) continue;
      incompatible.add(r);
      anomalies.push({
        type: 'incompatible-order',
        txns: [r.txn.id, longest.txn.id],
        key,
        description: `T${r.txn.id} read ${key} = [${r.op.value.join(', ')}], not a prefix of T${longest.txn.id}'s [${order.join(', ')}]: an append was lost or reordered`,
      });
    }
  }
  return { orders, incompatible, anomalies };
}

export function isPrefix(prefix: readonly Value[], list: readonly Value[]): boolean {
  return prefix.length <= list.length && prefix.every((v, i) => list[i] === v);
}
