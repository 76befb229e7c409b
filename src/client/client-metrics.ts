import { Counter, type Registry } from 'prom-client';

/** @internal Metrics of the client layer (the engine registers its own per phase). */
export interface ClientMetrics {
  /** Attempts retried after a retryable error, by error code. */
  readonly retries: Counter<'reason'>;
  /** Transactions run by db.transaction and auto-commit writes, by final outcome. */
  readonly transactions: Counter<'outcome'>;
}

/** @internal Registers (or reuses, when two databases share a registry) the client's metrics. */
export function clientMetrics(registry: Registry): ClientMetrics {
  return {
    retries: counter(registry, 'percolator_client_retries_total', 'Transaction attempts retried after a retryable error', 'reason'),
    transactions: counter(registry, 'percolator_client_transactions_total', 'Transactions by outcome (committed, rolled_back, failed)', 'outcome'),
  };
}

function counter<L extends string>(registry: Registry, name: string, help: string, label: L): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames: [label], registers: [registry] });
}
