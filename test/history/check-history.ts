import type { Anomaly, AnomalyType } from './anomaly.js';
import { AppendIndex } from './append-index.js';
import { findCycles } from './cycle-search.js';
import { buildDependencyGraph } from './dependency-graph.js';
import type { History } from './history.js';
import { findInternalAnomalies } from './internal-consistency.js';
import { findLostAppends, findReadAnomalies } from './read-anomalies.js';
import { inferVersionOrders, observedReads } from './version-order.js';

export type ConsistencyModel = 'serializable' | 'snapshot';

/** What each model allows; everything else the checker finds is a violation. */
const ALLOWED: Record<ConsistencyModel, ReadonlySet<AnomalyType>> = {
  serializable: new Set(),
  snapshot: new Set(['G2-item']),
};

export interface CheckResult {
  readonly valid: boolean;
  /** Anomalies the model forbids. */
  readonly violations: readonly Anomaly[];
  /** Every anomaly found, allowed or not. */
  readonly anomalies: readonly Anomaly[];
  readonly stats: { readonly txns: number; readonly committed: number; readonly edges: number; readonly keys: number };
}

/**
 * Checks a list-append history (Jepsen Elle's method): infer each key's
 * version order from the reads, flag what single reads reveal, build the
 * ww/wr/rw graph and look for cycles, then judge against `model`.
 */
export function checkHistory(history: History, model: ConsistencyModel): CheckResult {
  const { anomalies, stats } = analyzeHistory(history);
  const violations = anomalies.filter((a) => !ALLOWED[model].has(a.type));
  return { valid: violations.length === 0, violations, anomalies, stats };
}

/** Every anomaly in the history, whatever the model. */
export function analyzeHistory(history: History): Pick<CheckResult, 'anomalies' | 'stats'> {
  const appends = new AppendIndex(history);
  const reads = observedReads(history);
  const versions = inferVersionOrders(reads);
  const graph = buildDependencyGraph(reads, versions, appends);
  const anomalies = [
    ...appends.duplicates,
    ...findInternalAnomalies(history),
    ...findReadAnomalies(reads, appends),
    ...versions.anomalies,
    ...findLostAppends(history, appends),
    ...findCycles(graph),
  ];
  const stats = {
    txns: history.length,
    committed: history.filter((t) => t.outcome === 'ok').length,
    edges: graph.edgeCount(),
    keys: versions.orders.size,
  };
  return { anomalies, stats };
}

/** Anomaly types found, sorted: handy in assertions. */
export function anomalyTypes(anomalies: readonly Anomaly[]): AnomalyType[] {
  return [...new Set(anomalies.map((a) => a.type))].sort();
}
