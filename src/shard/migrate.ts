import { createHash, randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { SchemaError } from '../errors.js';
import type { ShardPool } from './shard-pool.js';
import { ensureEnumTypes, enumTypesOf, type EnumType } from './enum-type-ddl.js';
import { checkShardIdentities, markClusterComplete, readShardIdentity, recordShardIdentity, type PlacementConfig, type ShardQuery } from './shard-identity.js';
import { markBuilding } from './index-build-statements.js';
import { coreMigrations, tableMigrations, type Migration } from './storage-ddl.js';
import { columnChanges, columnChangeSql, nullFill, type ColumnChanges, type ColumnFill } from './column-changes.js';
import { planVersion, readSchemaStates, recordVersion, type VersionPlan } from './schema-versions.js';
import { readCatalogueIn, type CatalogueEntry } from './table-catalogue.js';
import { dropStorageSql, holdsLocksOf, stopWritersSql, waitForNoLocksOf } from './table-drops.js';
import { ident } from '../schema/sql-names.js';
import { fillSlotColumn } from './slot-column-fill.js';
import { isPostgresAbort } from './shard-errors.js';
import type { TableMeta } from '../schema/table-meta.js';
import { ID_BLOCKS_TABLE } from '../schema/id-blocks-table.js';

// Arbitrary constant: the advisory lock key all percolator migrations share.
const MIGRATION_LOCK_KEY = 7_366_512_001;

export interface MigrateOptions {
  /** The value existing rows read in an added column (the client evaluates defaults); default: NULL, for nullable columns only. */
  readonly fill?: ColumnFill | undefined;
  /** Drop the catalogued tables the declaration does not name: all of them (true) or these. */
  readonly dropTables?: boolean | readonly string[] | undefined;
  /** The oracle keeps the cluster's placement map, and the pools are numbered by it. */
  readonly mapped?: boolean | undefined;
}

export interface MigrateResult {
  /** The cluster id the shards record. */
  readonly clusterId: string;
  /** Tables whose declaration is an older schema version than the shards': left alone (their writers stay fenced). */
  readonly older: readonly { readonly table: string; readonly declared: number; readonly stored: number }[];
  /** Tables dropped. */
  readonly dropped: readonly string[];
}

/** What migrate() applies on every shard, decided before any shard is changed. */
interface Plan {
  readonly migrations: readonly Migration[];
  readonly enums: readonly EnumType[];
  readonly config: PlacementConfig;
  /** Declared user tables with their version plans (older ones excluded). */
  readonly versions: ReadonlyMap<TableMeta, VersionPlan>;
  /** Catalogued tables (and indexes) to drop. */
  readonly drops: readonly string[];
  readonly fill: ColumnFill;
}

/**
 * Applies the core migrations and each table's storage migrations on every
 * shard, online. On a shard everything runs in one local transaction
 * holding an advisory lock, so concurrent callers serialize, each migration
 * is applied once, and a shard is changed wholly or not at all. A table
 * whose stored columns differ from its declaration is altered (columns
 * added and dropped: column-changes.ts; anything else is a SchemaError,
 * checked on every shard before any is changed), indexes it no longer
 * declares are dropped, and its new schema version (schema-versions.ts) is
 * recorded with the change. Enum types are created or grown first
 * (enum-type-ddl.ts). Replaceable migrations (functions, the catalogue row)
 * are applied again when their text changed.
 *
 * Each shard also records its identity (shard-identity.ts): first every
 * shard's record is checked against this list (SchemaError before anything
 * is written), then shard 0 is migrated alone, recording the cluster id
 * (the one other shards record, else a new one; a concurrent first migrate
 * serializes on shard 0's lock and adopts it), then the others in parallel,
 * each checking its record again under its lock. A migrate() stopped part
 * way leaves each shard as it was or wholly changed; the next completes it.
 * `options.mapped`: the oracle keeps the cluster's placement map, and the
 * pools are numbered by it.
 */
export async function migrateShards(shards: readonly ShardPool[], tables: readonly TableMeta[], options: MigrateOptions = {}): Promise<MigrateResult> {
  const config: PlacementConfig = { shardCount: shards.length, tables, mapped: options.mapped ?? false };
  const names = tables.map((t) => t.name);
  const recorded = await Promise.all(shards.map((shard) => readShardIdentity(queryOn(shard), names)));
  const known = checkShardIdentities(recorded, shards.map((s) => s.name), config);
  const { plan, older } = await planMigration(shards, tables, config, options);
  for (const name of plan.drops) {
    await Promise.all(shards.map((shard) => underMigrationLock(shard, (run) => runAll(run, stopWritersSql(name)))));
    await waitForNoLocksOf(shards.map((shard) => queryOn(shard)), name);
  }
  const [first, ...rest] = shards;
  const clusterId = await migrateShard(first!, plan, known ?? randomUUID(), known === undefined);
  await Promise.all(rest.map((shard) => migrateShard(shard, plan, clusterId, false)));
  await Promise.all(shards.map((shard) => markClusterComplete(queryOn(shard))));
  return { clusterId, older, dropped: plan.drops };
}

/**
 * Reads every shard's catalogue and schema versions, numbers each declared
 * table's version, and checks every column change (SchemaError before any
 * shard is changed). Tables declared as an older version are left out.
 */
async function planMigration(shards: readonly ShardPool[], tables: readonly TableMeta[], config: PlacementConfig, options: MigrateOptions) {
  const userTables = tables.filter((t) => !t.indexOf);
  const catalogues = await Promise.all(shards.map((shard) => readCatalogueIn(queryOn(shard)).catch(() => [] as CatalogueEntry[])));
  const states = await Promise.all(shards.map((shard) => readSchemaStates(queryOn(shard), userTables.map((t) => t.name)).catch(() => new Map())));
  const versions = new Map<TableMeta, VersionPlan>();
  const older: MigrateResult['older'][number][] = [];
  for (const table of userTables) {
    const plan = planVersion(table, states.map((s) => s.get(table.name)));
    if (plan.kind === 'older') older.push({ table: table.name, declared: plan.declared, stored: plan.stored });
    else versions.set(table, plan);
  }
  const skipped = new Set(older.map((o) => o.table));
  const active = tables.filter((t) => !skipped.has(t.indexOf?.table.name ?? t.name));
  // Evaluated once per column: every shard's existing rows read the same value (a now() default, say).
  const fills = new Map<string, string | null>();
  const fill: ColumnFill = (table, column) => {
    const key = `${table.name}\u0000${column.name}`;
    if (!fills.has(key)) fills.set(key, (options.fill ?? nullFill)(table, column));
    return fills.get(key)!;
  };
  // Every change is checked (and every fill evaluated) on every shard first.
  for (const catalogue of catalogues) {
    for (const table of active) {
      const entry = catalogue.find((e) => e.name === table.name);
      if (entry && comparable(entry)) columnChanges(table, entry).added.forEach((column) => fill(table, column));
    }
  }
  const plan: Plan = {
    migrations: [...coreMigrations(), ...active.flatMap((t) => tableMigrations(t))],
    enums: enumTypesOf(active),
    config,
    versions,
    drops: tablesToDrop(tables, catalogues, options.dropTables),
    fill,
  };
  return { plan, older };
}

/** The catalogued user tables (with their indexes) the declaration leaves out and the options name for dropping. */
function tablesToDrop(tables: readonly TableMeta[], catalogues: readonly CatalogueEntry[][], dropTables: MigrateOptions['dropTables']): string[] {
  if (!dropTables) return [];
  const declared = new Set(tables.map((t) => t.name));
  // The id allocator is the library's own (a schema without serial columns does not declare it): never dropped.
  const userTables = new Set(catalogues.flat().filter((e) => e.indexOf === null && !declared.has(e.name) && e.name !== ID_BLOCKS_TABLE).map((e) => e.name));
  const chosen = dropTables === true ? [...userTables] : [...dropTables];
  for (const name of chosen) {
    if (declared.has(name)) throw new SchemaError(`migrate({ dropTables }) names table ${name}, which the schema declares: remove it from the schema to drop it`);
  }
  const drops = chosen.filter((name) => userTables.has(name)).sort();
  const indexes = catalogues.flat().filter((e) => e.indexOf !== null && drops.includes(e.indexOf)).map((e) => e.name);
  return [...new Set([...indexes, ...drops])];
}

function queryOn(shard: ShardPool, client?: PoolClient): ShardQuery {
  return (text, values) => shard.query({ text, values }, { client });
}

type Run = (text: string, values?: readonly unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

async function runAll(run: Run, statements: readonly string[]): Promise<void> {
  for (const statement of statements) await run(statement);
}

/**
 * `work` in one local transaction holding the migration lock. DDL takes
 * its tables' locks one at a time, so a reader holding one of them can
 * deadlock with it; Postgres then aborts one side, and an aborted
 * migration (nothing of it took effect) runs again.
 */
async function underMigrationLock<T>(shard: ShardPool, work: (run: Run, client: PoolClient) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await shard.transaction(async (client) => {
        // Every statement through shard.query: a failure leaves as a catalogue error.
        const run: Run = (text, values = []) => shard.query({ text, values }, { client });
        await run('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
        return work(run, client);
      });
    } catch (error) {
      if (!isPostgresAbort(error) || attempt >= 4) throw error;
    }
  }
}

async function migrateShard(shard: ShardPool, plan: Plan, clusterId: string, adoptRecorded: boolean): Promise<string> {
  return underMigrationLock(shard, async (run, client) => {
    // The types user columns are declared with, before the storage that uses them.
    await ensureEnumTypes(shard, client, plan.enums);
    const [bootstrap, ...rest] = plan.migrations;
    await run(bootstrap!.sql);
    const { rows } = await run('select name, checksum from percolator_migrations');
    const applied = new Map(rows.map((r) => [r.name as string, r.checksum as string]));
    // Core migrations first: the catalogue's columns that the table changes read.
    const core = rest.filter((m) => m.name.startsWith('core/'));
    await applyMigrations(shard.name, run, core, applied, new Set());
    await recordMigration(run, bootstrap!);
    const altered = await alterTables(run, plan);
    for (const name of plan.drops) await dropTable(run, name);
    const building = await applyMigrations(shard.name, run, rest.filter((m) => !m.name.startsWith('core/')), applied, altered);
    // New indexes of tables with rows: catalogued (by their migrations above) as not filled in yet.
    if (building.length > 0) await shard.query(markBuilding(building), { client });
    const query = queryOn(shard, client);
    for (const [table, version] of plan.versions) if (version.kind === 'record') await recordVersion(query, table, version.version);
    return recordShardIdentity(query, shard.index, shard.name, plan.config, clusterId, adoptRecorded);
  });
}

/**
 * Brings each declared table's stored columns to its declaration (the
 * catalogue lists what is stored) and drops the indexes of versioned
 * tables that the declaration no longer has. Returns the tables altered,
 * whose storage migrations are then recorded with their new texts.
 */
async function alterTables(run: Run, plan: Plan): Promise<Set<string>> {
  const catalogue = await readCatalogueIn(run);
  // Indexes are dropped only from a table whose stored shape is a recorded version: before versions
  // were recorded, a client lacking an index may be an old one (the index fence refuses its writes).
  const versioned = new Set((await run('select name from percolator_tables where schema_fingerprint is not null')).rows.map((r) => r.name as string));
  const altered = new Set<string>();
  for (const table of plan.versions.keys()) {
    const entry = catalogue.find((e) => e.name === table.name);
    if (!entry || !comparable(entry)) continue;
    const changes: ColumnChanges = columnChanges(table, entry);
    if (changes.added.length > 0 || changes.dropped.length > 0) {
      await runAll(run, columnChangeSql(table, changes, plan.fill));
      altered.add(table.name);
    }
    if (!versioned.has(table.name)) continue;
    const declared = new Set(table.indexes.map((index) => index.storage.name));
    for (const index of catalogue.filter((e) => e.indexOf === table.name && !declared.has(e.name))) await runAll(run, dropStorageSql(index.name));
  }
  return altered;
}

/**
 * Whether an entry lists the columns as a declaration spells their types:
 * one catalogued from the storage alone (no shard key: core migration 0003)
 * has Postgres's spelling, and the migration checksums judge that table.
 */
function comparable(entry: CatalogueEntry): boolean {
  return entry.shardKeyLength !== null;
}

/**
 * Applies the migrations not applied yet, in order. One applied earlier
 * with another text is applied again if replaceable, recorded with its new
 * text if it describes columns of a table altered above, else refused.
 * Returns the new indexes of tables that have rows.
 */
async function applyMigrations(shardName: string, run: Run, migrations: readonly Migration[], applied: ReadonlyMap<string, string>, altered: ReadonlySet<string>): Promise<string[]> {
  const building: string[] = [];
  for (const migration of migrations) {
    const checksum = createHash('sha256').update(migration.sql).digest('hex');
    const previous = applied.get(migration.name);
    if (previous === checksum) continue;
    const alteredHere = migration.columnsOf !== undefined && altered.has(migration.columnsOf);
    if (previous !== undefined && !migration.replaceable && !alteredHere) {
      throw new SchemaError(
        `shard ${shardName}: migration ${migration.name} was applied with different contents: the table's storage differs from its declaration in a way migrate() does not alter; declare the table as it was, or give the changed table a new name`,
      );
    }
    if (previous === undefined && migration.newIndex) {
      await run(migration.newIndex.lock);
      if ((await run(migration.newIndex.hasRows)).rows.length > 0) building.push(migration.newIndex.name);
    }
    if (previous === undefined || !alteredHere) await run(migration.sql);
    if (previous === undefined && migration.fillsSlotsOf) await fillSlotColumn(run, migration.fillsSlotsOf);
    await recordMigration(run, migration, checksum);
  }
  return building;
}

async function recordMigration(run: Run, migration: Migration, checksum = createHash('sha256').update(migration.sql).digest('hex')): Promise<void> {
  await run('insert into percolator_migrations (name, checksum) values ($1, $2) on conflict (name) do update set checksum = excluded.checksum, applied_at = now()', [
    migration.name,
    checksum,
  ]);
}

/** Drops a table's storage on this shard once no lock needs it (checked again under its lock: its writers are stopped). */
async function dropTable(run: Run, name: string): Promise<void> {
  const { rows } = await run('select 1 from percolator_tables where name = $1', [name]);
  if (rows.length > 0) {
    await run(`lock table ${ident(`${name}__locks`)} in access exclusive mode`);
    if (await holdsLocksOf(run, name)) throw new SchemaError(`table ${name} is not dropped: a transaction that wrote it holds a lock again; run migrate() again`);
  }
  await runAll(run, dropStorageSql(name));
}
