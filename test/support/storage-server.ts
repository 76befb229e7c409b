import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { PostgresServer } from '../../src/harness/postgres-server.js';
import { coreMigrations, tableMigrations } from '../../src/shard/storage-ddl.js';
import type { TableMeta } from '../../src/schema/table-meta.js';
import { preparedStatementName, type Statement } from '../../src/shard/shard-pool.js';

/**
 * One throwaway Postgres with a table's storage, for tests of the storage
 * statements themselves; `run` executes a statement prepared, with a
 * generic plan, as the engine does.
 */
export function useStorageServer(meta: TableMeta | readonly TableMeta[]): {
  client(): pg.Client;
  run<R extends pg.QueryResultRow>(statement: Statement): Promise<pg.QueryResult<R>>;
} {
  let server: PostgresServer | undefined;
  let client: pg.Client | undefined;
  beforeAll(async () => {
    server = await PostgresServer.create({ unsafeFast: true });
    client = new pg.Client({ connectionString: server.url, options: '-c plan_cache_mode=force_generic_plan' });
    await client.connect();
    for (const m of [...coreMigrations(), ...[meta].flat().flatMap((t) => tableMigrations(t))]) await client.query(m.sql);
    // This server stands for a whole cluster: it owns every slot (the prewrite's slot fence).
    await client.query('insert into percolator_owned_slots (slot, since_version) select s, 1 from generate_series(0, 4095) s');
  });
  afterAll(async () => {
    await client?.end();
    await server?.destroy();
  });
  return {
    client: () => client!,
    run: <R extends pg.QueryResultRow>(statement: Statement) => {
      // Prepared under the engine's name, so the generic plan is what runs.
      return client!.query<R>({ name: preparedStatementName(statement.text), text: statement.text, values: statement.values as unknown[] });
    },
  };
}
