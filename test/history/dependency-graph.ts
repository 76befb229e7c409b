import type { EdgeKind } from './anomaly.js';
import type { AppendIndex } from './append-index.js';
import type { Key, Txn } from './history.js';
import type { ObservedRead, VersionOrders } from './version-order.js';

/** The kinds of dependency from one transaction to another, each with one key that shows it. */
export type EdgeLabel = Partial<Record<EdgeKind, Key>>;

/**
 * Adya's direct serialization graph over committed transactions:
 * - ww: T1 appended to k, and T2's append is the next one in k's order;
 * - wr: T2 read a state of k whose last append is T1's;
 * - rw: T1 read a state of k, and T2's append is the next one after it
 *   (T2 overwrote what T1 read: an anti-dependency).
 * Aborted transactions are left out (reading them is G1a, found elsewhere);
 * info transactions whose appends were observed are in, as committed.
 */
export class DependencyGraph {
  private readonly edges = new Map<number, Map<number, EdgeLabel>>();

  add(from: number, to: number, kind: EdgeKind, key: Key): void {
    if (from === to) return;
    let out = this.edges.get(from);
    if (!out) this.edges.set(from, (out = new Map()));
    const label = out.get(to) ?? {};
    label[kind] ??= key;
    out.set(to, label);
    if (!this.edges.has(to)) this.edges.set(to, new Map());
  }

  nodes(): number[] {
    return [...this.edges.keys()];
  }

  label(from: number, to: number): EdgeLabel | undefined {
    return this.edges.get(from)?.get(to);
  }

  /** Successors over edges carrying at least one of `kinds`. */
  *successors(node: number, kinds: readonly EdgeKind[] = ['ww', 'wr', 'rw']): Iterable<number> {
    for (const [to, label] of this.edges.get(node) ?? []) {
      if (kinds.some((k) => label[k] !== undefined)) yield to;
    }
  }

  edgeCount(): number {
    let n = 0;
    for (const out of this.edges.values()) n += out.size;
    return n;
  }
}

export function buildDependencyGraph(reads: readonly ObservedRead[], versions: VersionOrders, appends: AppendIndex): DependencyGraph {
  const graph = new DependencyGraph();
  const committed = (txn: Txn | undefined): txn is Txn => txn !== undefined && txn.outcome !== 'fail';

  for (const [key, order] of versions.orders) {
    for (let i = 0; i + 1 < order.length; i += 1) {
      const before = appends.writer(key, order[i]!);
      const after = appends.writer(key, order[i + 1]!);
      if (committed(before) && committed(after)) graph.add(before.id, after.id, 'ww', key);
    }
  }

  for (const r of reads) {
    const key = r.op.key;
    const lastRead = r.external[r.external.length - 1];
    const source = lastRead === undefined ? undefined : appends.writer(key, lastRead);
    if (committed(source)) graph.add(source.id, r.txn.id, 'wr', key);

    if (versions.incompatible.has(r)) continue;
    const next = versions.orders.get(key)?.[r.external.length];
    const overwriter = next === undefined ? undefined : appends.writer(key, next);
    if (committed(overwriter)) graph.add(r.txn.id, overwriter.id, 'rw', key);
  }
  return graph;
}
