import { Counter, type Registry } from 'prom-client';

/**
 * @internal Metrics of the client layer. Retries are counted by the engine's
 * percolator_retries_total{cause} (reported through engine.recordRetry).
 */
export interface ClientMetrics {
  /** Transactions run by db.transaction and auto-commit writes, by final outcome. */
  readonly transactions: Counter<'outcome'>;
}

/** @internal Registers (or reuses, when two databases share a registry) the client's metrics. */
export function clientMetrics(registry: Registry): ClientMetrics {
  return {
    transactions: counter(registry, 'percolator_client_transactions_total', 'Transactions by outcome (committed, rolled_back, failed)', 'outcome'),
  };
}

function counter<L extends string>(registry: Registry, name: string, help: string, label: L): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames: [label], registers: [registry] });
}
