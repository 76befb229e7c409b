import { PostgresCluster } from '../../src/harness/postgres-cluster.js';
import { PostgresServer } from '../../src/harness/postgres-server.js';
import type { TimestampSource } from '../../src/oracle/timestamp-source.js';
import { SequenceTimestampSource } from './sequence-timestamp-source.js';

/** How a (child) process reaches the cluster's timestamp source; JSON-serializable. */
export type TimestampSourceSpec = { kind: 'sequence'; url: string } | { kind: 'oracle'; addresses: string[] };

export interface TestCluster {
  /** The shards (kill/restart them through `shards.servers[i]`). */
  readonly shards: PostgresCluster;
  readonly shardUrls: string[];
  /** The oracle's own Postgres (its meta table), separate from the shards so shard faults leave it alone. */
  readonly oracleDatabase: PostgresServer;
  /** gRPC address of the oracle process, once the real oracle is wired in. */
  readonly oracleAddress: string | undefined;
  readonly timestampSpec: TimestampSourceSpec;
  /** A new client of the cluster's timestamp source (close it when done). */
  createTimestampSource(): Promise<TimestampSource>;
  destroy(): Promise<void>;
}

/**
 * N throwaway shards (fsync off) plus a timestamp source shared by every
 * process of the test: the fixture the engine, client, anomaly and bench
 * suites share. One per test file; `destroy()` in afterAll.
 */
export async function startTestCluster(options: { shards?: number } = {}): Promise<TestCluster> {
  const [shards, oracleDatabase] = await Promise.all([
    PostgresCluster.start(options.shards ?? 3, { unsafeFast: true }),
    PostgresServer.create({ unsafeFast: true }),
  ]);
  const spec: TimestampSourceSpec = { kind: 'sequence', url: oracleDatabase.url };
  const probe = await timestampSourceFromSpec(spec);
  await probe.close();
  return {
    shards,
    shardUrls: shards.urls,
    oracleDatabase,
    oracleAddress: undefined,
    timestampSpec: spec,
    createTimestampSource: () => timestampSourceFromSpec(spec),
    async destroy() {
      await Promise.all([shards.destroy(), oracleDatabase.destroy()]);
    },
  };
}

export async function timestampSourceFromSpec(spec: TimestampSourceSpec): Promise<TimestampSource> {
  if (spec.kind === 'sequence') return SequenceTimestampSource.create(spec.url);
  throw new Error('oracle timestamp source not wired in yet');
}
