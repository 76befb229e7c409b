import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import type { TableMeta } from '../../src/schema/table-meta.js';
import { preparedStatementName, type Statement } from '../../src/shard/shard-pool.js';
import { startThrowawayStorage } from './throwaway-storage.js';

/**
 * One throwaway Postgres with a table's storage (startThrowawayStorage) for
 * a test file; `run` executes a statement prepared, with a generic plan,
 * as the engine does.
 */
export function useStorageServer(meta: TableMeta | readonly TableMeta[]): {
  client(): pg.Client;
  run<R extends pg.QueryResultRow>(statement: Statement): Promise<pg.QueryResult<R>>;
} {
  let storage: Awaited<ReturnType<typeof startThrowawayStorage>> | undefined;
  let client: pg.Client | undefined;
  beforeAll(async () => {
    storage = await startThrowawayStorage(meta);
    client = storage.client;
  });
  afterAll(async () => {
    await storage?.destroy();
  });
  return {
    client: () => client!,
    run: <R extends pg.QueryResultRow>(statement: Statement) => {
      // Prepared under the engine's name, so the generic plan is what runs.
      return client!.query<R>({ name: preparedStatementName(statement.text), text: statement.text, values: statement.values as unknown[] });
    },
  };
}
