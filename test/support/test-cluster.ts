import { startOracleProcess, type OracleProcess } from '../../src/harness/oracle-process.js';
import { PostgresCluster } from '../../src/harness/postgres-cluster.js';
import { PostgresServer } from '../../src/harness/postgres-server.js';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import type { TimestampSource } from '../../src/oracle/timestamp-source.js';

/** How a (child) process reaches the cluster's oracle; JSON-serializable. */
export interface TimestampSourceSpec {
  kind: 'oracle';
  addresses: string[];
}

export interface TestCluster {
  /** The shards (kill/restart them through `shards.servers[i]`). */
  readonly shards: PostgresCluster;
  readonly shardUrls: string[];
  /** The oracle's own Postgres (its meta table), separate from the shards so shard faults leave it alone. */
  readonly oracleDatabase: PostgresServer;
  /** The real `percolator oracle` process (kill/restart it for oracle faults). */
  readonly oracle: OracleProcess;
  /** gRPC host:port of the oracle. */
  readonly oracleAddress: string;
  readonly timestampSpec: TimestampSourceSpec;
  /** A new oracle client (close it when done). */
  createTimestampSource(): Promise<TimestampSource>;
  destroy(): Promise<void>;
}

/**
 * N throwaway shards (fsync off), a Postgres for the oracle's meta table and
 * a real oracle process: the fixture the engine, client, anomaly and bench
 * suites share. One per test file; `destroy()` in afterAll. Needs dist/
 * (`npm run build`) for the oracle process. `shardSettings`: extra
 * `-c name=value` settings of the shards.
 */
export async function startTestCluster(options: { shards?: number; shardSettings?: Record<string, string | number> } = {}): Promise<TestCluster> {
  const [shards, oracleDatabase] = await Promise.all([
    PostgresCluster.start(options.shards ?? 3, { unsafeFast: true, settings: options.shardSettings }),
    PostgresServer.create({ unsafeFast: true }),
  ]);
  let oracle: OracleProcess;
  try {
    oracle = await startOracleProcess({ metaUrl: oracleDatabase.url });
  } catch (error) {
    await Promise.all([shards.destroy(), oracleDatabase.destroy()]);
    throw error;
  }
  const spec: TimestampSourceSpec = { kind: 'oracle', addresses: [oracle.address] };
  return {
    shards,
    shardUrls: shards.urls,
    oracleDatabase,
    oracle,
    oracleAddress: oracle.address,
    timestampSpec: spec,
    createTimestampSource: () => timestampSourceFromSpec(spec),
    async destroy() {
      await oracle.kill('SIGKILL').catch(() => {});
      await Promise.all([shards.destroy(), oracleDatabase.destroy()]);
    },
  };
}

export async function timestampSourceFromSpec(spec: TimestampSourceSpec): Promise<TimestampSource> {
  return createOracleClient({ addresses: spec.addresses });
}
