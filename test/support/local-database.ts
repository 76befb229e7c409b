import { randomBytes } from 'node:crypto';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { is } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import type { PostgresServer } from '../../src/harness/postgres-server.js';
import { ident, storageType } from '../../src/schema/sql-names.js';
import { describeTable } from '../../src/schema/table-meta.js';
import type { Database } from '../../src/client/database.js';
import type { DatabaseFixture } from './database-fixture.js';

/** A plain Postgres database (`local`) holding ordinary tables, queried with drizzle itself: the reference the client's results are compared with. */
export interface LocalDatabase<TSchema extends Record<string, unknown>> {
  readonly db: NodePgDatabase<TSchema>;
  readonly pool: pg.Pool;
  /** Deletes every row of every table. */
  truncate(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Creates a fresh database on `server` (one of the test cluster's servers)
 * with an ordinary table per table of the schema (its relations() are drizzle's to use): the same columns, types, not-null
 * and primary key as declared, no percolator storage.
 */
export async function createLocalDatabase<TSchema extends Record<string, unknown>>(server: PostgresServer, schema: TSchema): Promise<LocalDatabase<TSchema>> {
  const url = await server.createDatabase(`local_${randomBytes(4).toString('hex')}`);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const tables = Object.values(schema).filter((entry): entry is PgTable => is(entry, PgTable)).map((table) => describeTable(table));
  for (const meta of tables) {
    const columns = meta.columns.map((c) => `${ident(c.name)} ${storageType(c.sqlType)}${c.notNull ? ' not null' : ''}`);
    await pool.query(`create table ${ident(meta.name)} (${columns.join(', ')}, primary key (${meta.primaryKey.map((c) => ident(c.name)).join(', ')}))`);
  }
  return {
    db: drizzle(pool, { schema }),
    pool,
    truncate: async () => {
      await pool.query(`truncate ${tables.map((t) => ident(t.name)).join(', ')}`);
    },
    close: () => pool.end(),
  };
}

/**
 * A local reference database beside a useDatabase fixture: the same tables,
 * plain, in a database of its own on the oracle's server, created before the
 * file's tests and closed after them; `db` is the fixture's client, so a
 * test reads both sides from one object.
 */
export function useLocalDatabase<TSchema extends Record<string, unknown>>(
  fixture: DatabaseFixture<TSchema>,
  schema: TSchema,
): { readonly db: Database<TSchema>; readonly local: LocalDatabase<TSchema> } {
  let local: LocalDatabase<TSchema> | undefined;
  beforeAll(async () => {
    local = await createLocalDatabase(fixture.cluster.oracleDatabase, schema);
  });
  afterAll(async () => {
    await local?.close();
  });
  return {
    get db() {
      return fixture.db;
    },
    get local() {
      return local!;
    },
  };
}
