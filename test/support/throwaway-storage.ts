import pg from 'pg';
import { PostgresServer } from '../../src/harness/postgres-server.js';
import type { TableMeta } from '../../src/schema/table-meta.js';
import { coreMigrations, tableMigrations } from '../../src/shard/storage-ddl.js';

/**
 * One throwaway Postgres with the storage of `tables`, standing for a whole
 * cluster (it owns every slot: the prewrite's slot fence), and a client
 * whose prepared statements run with a generic plan, as the engine's do.
 * For tests and measurements of the storage statements themselves.
 */
export async function startThrowawayStorage(tables: TableMeta | readonly TableMeta[]): Promise<{ server: PostgresServer; client: pg.Client; destroy(): Promise<void> }> {
  const server = await PostgresServer.create({ unsafeFast: true });
  const client = new pg.Client({ connectionString: server.url, options: '-c plan_cache_mode=force_generic_plan' });
  const destroy = async () => {
    await client.end().catch(() => {});
    await server.destroy();
  };
  try {
    await client.connect();
    for (const m of [...coreMigrations(), ...[tables].flat().flatMap((t) => tableMigrations(t))]) await client.query(m.sql);
    await client.query('insert into percolator_owned_slots (slot, since_version) select s, 1 from generate_series(0, 4095) s');
  } catch (error) {
    await destroy();
    throw error;
  }
  return { server, client, destroy };
}
