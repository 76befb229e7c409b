import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import type { Logger } from '../logger.js';
import { packageRoot } from '../package-root.js';

/** Arbitrary constant: serializes concurrent oracle processes migrating one meta database. */
const MIGRATION_LOCK_KEY = 0x7e7c01a;

/**
 * Applies schema/oracle/*.sql in name order, each once, recorded in
 * `percolator_oracle_migrations`. Idempotent and safe when several oracle
 * processes start against the same meta database at once (advisory lock).
 */
export async function migrateMetaSchema(client: pg.ClientBase, logger: Logger): Promise<void> {
  const dir = path.join(packageRoot(), 'schema', 'oracle');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS percolator_oracle_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ name: string }>('SELECT name FROM percolator_oracle_migrations');
    const applied = new Set(rows.map((r) => r.name));
    for (const file of files) {
      if (applied.has(file)) continue;
      await client.query(await readFile(path.join(dir, file), 'utf8'));
      await client.query('INSERT INTO percolator_oracle_migrations (name) VALUES ($1)', [file]);
      logger.info({ migration: file }, 'applied meta schema migration');
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
