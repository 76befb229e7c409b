import { afterAll, beforeAll } from 'vitest';
import { startOracleProcess, type OracleProcess, type OracleProcessOptions } from '../../../src/harness/oracle-process.js';
import { PostgresServer } from '../../../src/harness/postgres-server.js';
import { createMetaDatabase } from './meta-database.js';

export interface MetaServer {
  /** The oracles' meta Postgres (kill and start it for meta faults). */
  readonly server: PostgresServer;
  /** A fresh database on it: oracles of different databases share no lease. */
  database(): Promise<string>;
  /** A `percolator oracle` process, on a fresh meta database unless `metaUrl` is given; killed after the file's tests. */
  oracle(options?: Omit<OracleProcessOptions, 'metaUrl'> & { metaUrl?: string }): Promise<OracleProcess>;
}

/**
 * One throwaway meta Postgres for a test file's oracles, and the oracle
 * processes started on it, removed after the file's tests. Call at the top
 * of a describe block: its own afterAll hooks run before this teardown.
 */
export function useMetaServer(): MetaServer {
  let server: PostgresServer | undefined;
  const oracles: OracleProcess[] = [];
  const fixture: MetaServer = {
    get server() {
      return server!;
    },
    database: () => createMetaDatabase(server!),
    async oracle(options = {}) {
      const oracle = await startOracleProcess({ ...options, metaUrl: options.metaUrl ?? (await fixture.database()) });
      oracles.push(oracle);
      return oracle;
    },
  };
  beforeAll(async () => {
    server = await PostgresServer.create({ unsafeFast: true });
  });
  afterAll(async () => {
    await Promise.all(oracles.map((o) => o.kill()));
    await server?.destroy();
  });
  return fixture;
}
