import { Counter, Histogram, register as defaultRegistry, type Registry } from 'prom-client';

/** Prometheus metrics of one engine, registered in the user's registry (reused if already there). */
export interface EngineMetrics {
  commits: Counter<'kind'>;
  aborts: Counter<'cause'>;
  lockResolutions: Counter<'outcome'>;
  retries: Counter<'cause'>;
  commitTsPushes: Counter;
  lockWaits: Counter<'outcome'>;
  gcDeletedVersions: Counter;
  sharedStatements: Counter<'kind'>;
  sharedStatementRequests: Counter<'kind'>;
  phaseSeconds: Histogram<'phase'>;
}

export function createEngineMetrics(registry: Registry = defaultRegistry): EngineMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter<L>({ name, help, labelNames, registers: [registry] });
  return {
    commits: counter('percolator_commits_total', 'Transactions committed (kind: one-shard | multi-shard | read-only)', ['kind']),
    aborts: counter('percolator_aborts_total', 'Transactions that failed to commit, by cause (error code)', ['cause']),
    lockResolutions: counter('percolator_lock_resolutions_total', 'Locks of other transactions met, by outcome', ['outcome']),
    retries: counter('percolator_retries_total', 'Transaction attempts retried by the client, by cause', ['cause']),
    commitTsPushes: counter('percolator_commit_ts_pushes_total', 'commitPrimary attempts refused because a reader pushed the primary lock past commit_ts (a newer commit_ts was taken)', []),
    gcDeletedVersions: counter('percolator_gc_deleted_versions_total', 'Versions deleted by version GC runs of this client', []),
    sharedStatements: counter('percolator_shared_statements_total', 'Prewrite, commit and point-read statements sent (kind), each shared by one or more transactions', ['kind']),
    sharedStatementRequests: counter('percolator_shared_statement_requests_total', 'Transactions\' requests those statements carried (divided by percolator_shared_statements_total: transactions per statement)', ['kind']),
    lockWaits: counter('percolator_lock_waits_total', 'Locking reads (for update) that had to wait for another transaction, by outcome (acquired | timeout | deadlock | error)', ['outcome']),
    phaseSeconds:
      (registry.getSingleMetric('percolator_phase_seconds') as Histogram<'phase'> | undefined) ??
      new Histogram({
        name: 'percolator_phase_seconds',
        help: 'Latency of each commit phase',
        labelNames: ['phase'],
        buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      }),
  };
}
