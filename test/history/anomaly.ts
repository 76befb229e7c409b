import type { Key } from './history.js';

/**
 * What the checker can find. Non-cyclic anomalies come from looking at single
 * reads; cyclic ones from the dependency graph (Adya's names, plus Elle's
 * G-nonadjacent).
 */
export type AnomalyType =
  /** The same (key, value) appended twice: the workload is broken, nothing else can be trusted. */
  | 'duplicate-append'
  /** A read returned a value nobody appended. */
  | 'garbage-read'
  /** A read returned the same value twice. */
  | 'duplicate-elements'
  /** A read disagrees with the transaction's own earlier reads and appends. */
  | 'internal'
  /** Two reads of a key where neither is a prefix of the other: some append was lost or reordered. */
  | 'incompatible-order'
  /** A quiescent final read misses an append of a committed transaction. */
  | 'lost-append'
  /** Aborted read: a committed transaction saw a value of an aborted one. */
  | 'G1a'
  /** Intermediate read: a committed transaction saw a state another transaction later overwrote itself. */
  | 'G1b'
  /** Cycle of write-write edges only (dirty write). */
  | 'G0'
  /** Cycle of write-write and write-read edges (circular information flow). */
  | 'G1c'
  /** Cycle with exactly one read-write (anti-dependency) edge (read skew, lost update). */
  | 'G-single'
  /** Cycle with two or more read-write edges, none of them adjacent: forbidden even under snapshot isolation. */
  | 'G-nonadjacent'
  /** Cycle with two or more read-write edges, some adjacent (write skew): allowed by snapshot isolation. */
  | 'G2-item';

export type EdgeKind = 'ww' | 'wr' | 'rw';

/** One step of a dependency cycle: `from` must precede `to` because of `kind` on `key`. */
export interface CycleStep {
  readonly from: number;
  readonly to: number;
  readonly kind: EdgeKind;
  readonly key: Key;
}

export interface Anomaly {
  readonly type: AnomalyType;
  /** Ids of the transactions involved. */
  readonly txns: readonly number[];
  readonly key?: Key;
  readonly cycle?: readonly CycleStep[];
  readonly description: string;
}

export function describeCycle(cycle: readonly CycleStep[]): string {
  return cycle.map((s) => `T${s.from} -${s.kind}(${s.key})->`).join(' ') + ` T${cycle[0]?.from ?? '?'}`;
}
