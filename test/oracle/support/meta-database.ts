import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { PostgresServer } from '../../../src/harness/postgres-server.js';

/** A fresh database on `server` for one test's oracles, so that tests sharing a server share no lease. */
export async function createMetaDatabase(server: PostgresServer): Promise<string> {
  const name = `oracle_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const client = new pg.Client(server.url);
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return server.urlFor(name);
}
