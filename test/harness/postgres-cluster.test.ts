import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresCluster } from '../../src/harness/postgres-cluster.js';
import { PostgresServer } from '../../src/harness/postgres-server.js';

describe('throwaway Postgres cluster', () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await PostgresCluster.start(2, { unsafeFast: true });
  });
  afterAll(async () => {
    await cluster?.destroy();
  });

  it('starts independent servers on distinct loopback ports', async () => {
    const ports = cluster.servers.map((s) => s.port);
    expect(new Set(ports).size).toBe(2);
    for (const url of cluster.urls) {
      const client = new pg.Client(url);
      await client.connect();
      const { rows } = await client.query<{ v: string }>('select current_setting($$server_version$$) as v');
      expect(Number(rows[0]!.v.split('.')[0])).toBeGreaterThanOrEqual(14);
      await client.end();
    }
  });

  it('a server whose port is taken moves to another port instead of answering with its neighbour', async () => {
    const neighbour = cluster.servers[0]!;
    const server = await PostgresServer.create({ unsafeFast: true, port: neighbour.port });
    try {
      expect(server.port).not.toBe(neighbour.port);
      const client = new pg.Client(server.url);
      await client.connect();
      const { rows } = await client.query<{ data_directory: string }>('show data_directory');
      expect(rows[0]!.data_directory).toBe(server.dataDir);
      await client.end();
    } finally {
      await server.destroy();
    }
  });

  it('survives a kill -9 and restart without losing committed data', async () => {
    const server = cluster.servers[0]!;
    const client = new pg.Client(server.url);
    await client.connect();
    await client.query('create table kept (v int); insert into kept values (42)');
    await client.end();
    await server.kill();
    expect(server.running).toBe(false);
    await server.start();
    const again = new pg.Client(server.url);
    await again.connect();
    const { rows } = await again.query('select v from kept');
    expect(rows).toEqual([{ v: 42 }]);
    await again.end();
  });
});
