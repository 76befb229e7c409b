import pg from 'pg';
import { PostgresCluster } from '../../src/harness/postgres-cluster.js';
import { startOracleProcess, type OracleProcess } from '../../src/harness/oracle-process.js';

/** Three (or n) throwaway shards and one real oracle process whose meta table lives in its own database on shard 0's server. */
export interface ClientCluster {
  readonly postgres: PostgresCluster;
  readonly urls: string[];
  readonly oracle: string[];
  readonly oracleProcess: OracleProcess;
  /** Rows (all versions) of a storage table on each shard, straight from Postgres. */
  countPerShard(storageTable: string): Promise<number[]>;
  destroy(): Promise<void>;
}

export async function startClientCluster(shards: number): Promise<ClientCluster> {
  const postgres = await PostgresCluster.start(shards, { unsafeFast: true });
  try {
    const metaUrl = await createDatabase(postgres.servers[0]!.url, 'oracle_meta');
    const oracleProcess = await startOracleProcess({ metaUrl });
    return {
      postgres,
      urls: postgres.urls,
      oracle: [oracleProcess.address],
      oracleProcess,
      countPerShard: (storageTable) => Promise.all(postgres.urls.map((url) => countRows(url, storageTable))),
      async destroy() {
        await oracleProcess.stop().catch(() => oracleProcess.kill());
        await postgres.destroy();
      },
    };
  } catch (error) {
    await postgres.destroy();
    throw error;
  }
}

async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client(serverUrl);
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function countRows(url: string, table: string): Promise<number> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(`select count(*) as n from "${table}"`);
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}
