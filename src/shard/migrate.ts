import { createHash } from 'node:crypto';
import { SchemaError } from '../errors.js';
import type { ShardPool } from './shard-pool.js';
import { coreMigrations, tableMigrations, type Migration } from './storage-ddl.js';
import type { TableMeta } from '../schema/table-meta.js';

// Arbitrary constant: the advisory lock key all percolator migrations share.
const MIGRATION_LOCK_KEY = 7_366_512_001;

/**
 * Applies the core migrations and each table's storage migrations on every
 * shard, in parallel across shards. On a shard everything runs in one local
 * transaction holding an advisory lock, so concurrent callers serialize and
 * each migration is applied once. A migration applied earlier with a
 * different text (the table's columns changed) is a SchemaError: this
 * version does not alter existing storage. Replaceable migrations (the
 * prewrite function) are simply applied again when their text changed.
 */
export async function migrateShards(shards: readonly ShardPool[], tables: readonly TableMeta[]): Promise<void> {
  const migrations = [...coreMigrations(), ...tables.flatMap((t) => tableMigrations(t))];
  await Promise.all(shards.map((shard) => migrateShard(shard, migrations)));
}

async function migrateShard(shard: ShardPool, migrations: readonly Migration[]): Promise<void> {
  await shard.transaction(async (client) => {
    await shard.query({ text: 'select pg_advisory_xact_lock($1)', values: [MIGRATION_LOCK_KEY] }, { client });
    const [bootstrap, ...rest] = migrations;
    await client.query(bootstrap!.sql);
    const { rows } = await shard.query<{ name: string; checksum: string }>({ text: 'select name, checksum from percolator_migrations', values: [] }, { client });
    const applied = new Map(rows.map((r) => [r.name, r.checksum]));
    for (const migration of [bootstrap!, ...rest]) {
      const checksum = createHash('sha256').update(migration.sql).digest('hex');
      const previous = applied.get(migration.name);
      if (previous === checksum) continue;
      if (previous !== undefined && !migration.replaceable) {
        throw new SchemaError(`shard ${shard.name}: migration ${migration.name} was applied with different contents (did the table's columns change?)`);
      }
      if (migration !== bootstrap) await client.query(migration.sql);
      await shard.query(
        {
          text: 'insert into percolator_migrations (name, checksum) values ($1, $2) on conflict (name) do update set checksum = excluded.checksum, applied_at = now()',
          values: [migration.name, checksum],
        },
        { client },
      );
    }
  });
}
