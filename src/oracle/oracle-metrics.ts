import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Server-side Prometheus metrics of one oracle process. */
export class OracleMetrics {
  readonly timestampsServed: Counter;
  readonly batchSize: Histogram;
  readonly rpcDuration: Histogram<'method' | 'code'>;
  readonly isLeader: Gauge;
  readonly epoch: Gauge;
  readonly leaseRenewals: Counter<'result'>;
  readonly timestampLimitMs: Gauge;

  constructor(readonly registry: Registry = new Registry()) {
    this.timestampsServed = new Counter({
      name: 'percolator_oracle_timestamps_served_total',
      help: 'Timestamps handed out by this process while leader',
      registers: [registry],
    });
    this.batchSize = new Histogram({
      name: 'percolator_oracle_batch_size',
      help: 'Timestamps asked for per request (unary call or stream message)',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000],
      registers: [registry],
    });
    this.rpcDuration = new Histogram({
      name: 'percolator_oracle_rpc_duration_seconds',
      help: 'Time to answer one request (unary call or stream message), by method and gRPC status',
      labelNames: ['method', 'code'],
      buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
      registers: [registry],
    });
    this.isLeader = new Gauge({
      name: 'percolator_oracle_is_leader',
      help: '1 while this process holds the lease and serves, else 0',
      registers: [registry],
    });
    this.epoch = new Gauge({
      name: 'percolator_oracle_epoch',
      help: 'Fencing epoch of the lease this process last held',
      registers: [registry],
    });
    this.leaseRenewals = new Counter({
      name: 'percolator_oracle_lease_renewals_total',
      help: 'Lease renewals (each also persists the timestamp window), by result',
      labelNames: ['result'],
      registers: [registry],
    });
    this.timestampLimitMs = new Gauge({
      name: 'percolator_oracle_timestamp_limit_ms',
      help: 'Physical part (ms) of the persisted timestamp limit',
      registers: [registry],
    });
  }
}
