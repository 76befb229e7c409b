import { createHash, randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { SchemaError } from '../errors.js';
import type { ShardPool } from './shard-pool.js';
import { ensureEnumTypes, enumTypesOf, type EnumType } from './enum-type-ddl.js';
import { checkShardIdentities, markClusterComplete, readShardIdentity, recordShardIdentity, type PlacementConfig, type ShardQuery } from './shard-identity.js';
import { markBuilding } from './index-build-statements.js';
import { coreMigrations, tableMigrations, type Migration } from './storage-ddl.js';
import type { TableMeta } from '../schema/table-meta.js';

// Arbitrary constant: the advisory lock key all percolator migrations share.
const MIGRATION_LOCK_KEY = 7_366_512_001;

/**
 * Applies the core migrations and each table's storage migrations on every
 * shard. On a shard everything runs in one local transaction holding an
 * advisory lock, so concurrent callers serialize and each migration is
 * applied once. A migration applied earlier with a different text (the
 * table's columns changed) is a SchemaError: this version does not alter
 * existing storage. Enum types of the columns are created first where
 * missing (enum-types.ts). Replaceable migrations (the prewrite function) are
 * simply applied again when their text changed.
 *
 * Each shard also records its identity (shard-identity.ts): first every
 * shard's record is checked against this list (SchemaError before anything
 * is written), then shard 0 is migrated alone, recording the cluster id
 * (the one other shards record, else a new one; a concurrent first migrate
 * serializes on shard 0's lock and adopts it), then the others in parallel,
 * each checking its record again under its lock.
 *
 * Returns the cluster id the shards record. `mapped`: the oracle keeps the
 * cluster's placement map, and the pools are numbered by it.
 */
export async function migrateShards(shards: readonly ShardPool[], tables: readonly TableMeta[], mapped = false): Promise<string> {
  const migrations = [...coreMigrations(), ...tables.flatMap((t) => tableMigrations(t))];
  const config: PlacementConfig = { shardCount: shards.length, tables, mapped };
  const names = tables.map((t) => t.name);
  const recorded = await Promise.all(shards.map((shard) => readShardIdentity(queryOn(shard), names)));
  const known = checkShardIdentities(recorded, shards.map((s) => s.name), config);
  const enums = enumTypesOf(tables);
  const [first, ...rest] = shards;
  const clusterId = await migrateShard(first!, migrations, enums, config, known ?? randomUUID(), known === undefined);
  await Promise.all(rest.map((shard) => migrateShard(shard, migrations, enums, config, clusterId, false)));
  await Promise.all(shards.map((shard) => markClusterComplete(queryOn(shard))));
  return clusterId;
}

function queryOn(shard: ShardPool, client?: PoolClient): ShardQuery {
  return (text, values) => shard.query({ text, values }, { client });
}

async function migrateShard(
  shard: ShardPool,
  migrations: readonly Migration[],
  enums: readonly EnumType[],
  config: PlacementConfig,
  clusterId: string,
  adoptRecorded: boolean,
): Promise<string> {
  // Every statement through shard.query: a failure leaves as a catalogue error.
  const run = (sql: string, client: PoolClient) => shard.query({ text: sql, values: [] }, { client });
  return shard.transaction(async (client) => {
    await shard.query({ text: 'select pg_advisory_xact_lock($1)', values: [MIGRATION_LOCK_KEY] }, { client });
    // The types user columns are declared with, before the storage that uses them.
    await ensureEnumTypes(shard, client, enums);
    const [bootstrap, ...rest] = migrations;
    await run(bootstrap!.sql, client);
    const { rows } = await shard.query<{ name: string; checksum: string }>({ text: 'select name, checksum from percolator_migrations', values: [] }, { client });
    const applied = new Map(rows.map((r) => [r.name, r.checksum]));
    const building: string[] = [];
    for (const migration of [bootstrap!, ...rest]) {
      const checksum = createHash('sha256').update(migration.sql).digest('hex');
      const previous = applied.get(migration.name);
      if (previous === checksum) continue;
      if (previous !== undefined && !migration.replaceable) {
        throw new SchemaError(
          `shard ${shard.name}: migration ${migration.name} was applied with different contents: the table's storage differs from its declaration (its columns changed since the storage was created). This version does not alter existing storage: declare the table as it was, or give the changed table a new name`,
        );
      }
      if (previous === undefined && migration.newIndex) {
        await run(migration.newIndex.lock, client);
        if ((await run(migration.newIndex.hasRows, client)).rows.length > 0) building.push(migration.newIndex.name);
      }
      if (migration !== bootstrap) await run(migration.sql, client);
      await shard.query(
        {
          text: 'insert into percolator_migrations (name, checksum) values ($1, $2) on conflict (name) do update set checksum = excluded.checksum, applied_at = now()',
          values: [migration.name, checksum],
        },
        { client },
      );
    }
    // New indexes of tables with rows: catalogued (by their migrations above) as not filled in yet.
    if (building.length > 0) await shard.query(markBuilding(building), { client });
    return recordShardIdentity(queryOn(shard, client), shard.index, shard.name, config, clusterId, adoptRecorded);
  });
}
