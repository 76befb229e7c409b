import { randomUUID } from 'node:crypto';
import type { PostgresServer } from '../../../src/harness/postgres-server.js';

/** A fresh database on `server` for one test's oracles, so that tests sharing a server share no lease. */
export function createMetaDatabase(server: PostgresServer): Promise<string> {
  return server.createDatabase(`oracle_${randomUUID().replaceAll('-', '').slice(0, 12)}`);
}
