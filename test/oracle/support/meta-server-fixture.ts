import { afterAll, beforeAll } from 'vitest';
import { EtcdCluster } from '../../../src/harness/etcd-cluster.js';
import { startOracleProcess, type OracleProcess, type OracleProcessOptions } from '../../../src/harness/oracle-process.js';
import { PostgresServer } from '../../../src/harness/postgres-server.js';
import { createMetaDatabase } from './meta-database.js';

/** The oracle's meta store backends: every fault test of the oracle runs against each. */
export type MetaBackend = 'postgres' | 'etcd';
export const META_BACKENDS: MetaBackend[] = ['postgres', 'etcd'];

export interface MetaServer {
  readonly backend: MetaBackend;
  /** The oracles' meta Postgres (postgres backend only). */
  readonly server: PostgresServer;
  /** The oracles' etcd cluster (etcd backend only). */
  readonly etcd: EtcdCluster;
  /** A fresh meta store URL (a database, or an etcd key prefix): oracles of different URLs share no lease. */
  database(): Promise<string>;
  /** Makes the meta store unreachable: the Postgres server, or every etcd member, killed. */
  kill(): Promise<void>;
  /** Brings it back on its data. */
  start(): Promise<void>;
  /** A `percolator oracle` process, on a fresh meta store unless `metaUrl` is given; killed after the file's tests. */
  oracle(options?: Omit<OracleProcessOptions, 'metaUrl'> & { metaUrl?: string }): Promise<OracleProcess>;
}

/**
 * One throwaway meta store for a test file's oracles (a Postgres server, or
 * a real 3-member etcd cluster on loopback ports), and the oracle processes
 * started on it, removed after the file's tests. Call at the top of a
 * describe block: its own afterAll hooks run before this teardown.
 */
export function useMetaServer(backend: MetaBackend = 'postgres'): MetaServer {
  let server: PostgresServer | undefined;
  let etcd: EtcdCluster | undefined;
  const oracles: OracleProcess[] = [];
  const fixture: MetaServer = {
    backend,
    get server() {
      if (!server) throw new Error(`the ${backend} meta store has no Postgres server`);
      return server;
    },
    get etcd() {
      if (!etcd) throw new Error(`the ${backend} meta store has no etcd cluster`);
      return etcd;
    },
    database: async () => (etcd ? etcd.url() : createMetaDatabase(server!)),
    async kill() {
      if (server) await server.kill();
      else await Promise.all(etcd!.members.map((_m, i) => etcd!.kill(i)));
    },
    async start() {
      if (server) await server.start();
      else await etcd!.restart();
    },
    async oracle(options = {}) {
      const oracle = await startOracleProcess({ ...options, metaUrl: options.metaUrl ?? (await fixture.database()) });
      oracles.push(oracle);
      return oracle;
    },
  };
  beforeAll(async () => {
    if (backend === 'etcd') etcd = await EtcdCluster.start({ members: 3 });
    else server = await PostgresServer.create({ unsafeFast: true });
  });
  afterAll(async () => {
    await Promise.all(oracles.map((o) => o.kill()));
    await server?.destroy();
    await etcd?.destroy();
  });
  return fixture;
}
