import { SchemaError } from '../errors.js';
import { storageType } from '../schema/sql-names.js';
import type { TableMeta } from '../schema/table-meta.js';
import { SLOT_COUNT } from './placement-map.js';

/**
 * What placement means, recorded on each shard: a change to how rows are
 * placed (src/shard/shard-of.ts, src/shard/key-text.ts) must change this
 * text, so that clients placing rows differently refuse to share shards.
 * v1 placed rows by the hash mod the shard count; clusters it created are
 * refused (there is no migration from it: see docs/OPERATIONS.md).
 */
export const PLACEMENT_FUNCTION = 'slot = fnv1a32(json(shard key texts)) mod 4096; shard = placement map (initially slot mod shard_count); v2';

/** What one shard records about itself (schema/core/0004-shard-identity.sql). */
export interface ShardIdentity {
  readonly clusterId: string;
  readonly position: number;
  readonly shardCount: number;
  readonly placement: string;
  /** Every shard of the cluster has been migrated (0005): a database in its list that records nothing is not one of them. */
  readonly complete: boolean;
  /** Per table name (only the tables asked about), the shard key its rows are placed by. */
  readonly shardKeys: ReadonlyMap<string, string>;
}

/** How this client places rows: the shard list's length and each table's shard key. */
export interface PlacementConfig {
  readonly shardCount: number;
  readonly tables: readonly TableMeta[];
  /**
   * The oracle keeps the cluster's placement map: shards are numbered by the
   * map (the position each recorded), not by this client's list, so the
   * list's order and length are not checked.
   */
  readonly mapped?: boolean;
  /**
   * A shard recording its identity for the first time owns the slots of the
   * initial layout (slot mod count = position); false for a shard added to
   * a running cluster, which owns none until slots are moved to it.
   */
  readonly initialSlots?: boolean;
}

/** A table's shard key as recorded: its columns' SQL names and storage types (what their key texts depend on). */
export function shardKeyOf(table: TableMeta): string {
  return table.shardKey.map((c) => `${c.name} ${storageType(c.sqlType)}`).join(', ');
}

/** Runs one statement on a shard (a probe connection, or a migration's transaction). */
export type ShardQuery = (text: string, values: readonly unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

/** The identity a shard records, or undefined if it has none yet (never migrated by a version that records it). */
export async function readShardIdentity(query: ShardQuery, tableNames: readonly string[]): Promise<ShardIdentity | undefined> {
  const { rows } = await query(`select to_regclass('percolator_shard_identity') is not null as recorded`, []);
  if (rows[0]?.recorded !== true) return undefined;
  return readRecorded(query, tableNames);
}

async function readRecorded(query: ShardQuery, tableNames: readonly string[]): Promise<ShardIdentity | undefined> {
  // to_jsonb: `complete` is absent on a shard recorded before migration 0005.
  const { rows } = await query(
    `select cluster_id::text as cluster_id, position, shard_count, placement, coalesce((to_jsonb(i) ->> 'complete')::boolean, false) as complete from percolator_shard_identity i`,
    [],
  );
  const row = rows[0];
  if (!row) return undefined;
  const keys = await query('select table_name, shard_key from percolator_placement where table_name = any($1::text[])', [tableNames]);
  return {
    clusterId: String(row.cluster_id),
    position: Number(row.position),
    shardCount: Number(row.shard_count),
    placement: String(row.placement),
    complete: row.complete === true,
    shardKeys: new Map(keys.rows.map((r) => [String(r.table_name), String(r.shard_key)])),
  };
}

/**
 * Checks what the shards record against this client's list and placement:
 * SchemaError naming the first disagreement. Shards that record nothing
 * pass (migrate() records them) until the cluster is complete: then they
 * are not the databases that were migrated at their positions. Returns the
 * cluster id the shards record, if any does.
 */
export function checkShardIdentities(recorded: readonly (ShardIdentity | undefined)[], names: readonly string[], config: PlacementConfig): string | undefined {
  let cluster: { id: string; shard: number } | undefined;
  const complete = recorded.findIndex((identity) => identity?.complete === true);
  recorded.forEach((identity, i) => {
    // A shard being added to a running cluster (initialSlots false) records nothing yet.
    if (!identity && complete >= 0 && config.initialSlots !== false) {
      throw new SchemaError(
        `shard ${names[i]} records no identity, but shard ${names[complete]} records a complete cluster of ${recorded[complete]!.shardCount} shards, ` +
          `every one of them migrated: ${names[i]} is not the database that was migrated at position ${i} (a wrong URL, or a database restored empty)`,
      );
    }
    if (!identity) return;
    checkShardIdentity(identity, i, names[i]!, config);
    if (!cluster) cluster = { id: identity.clusterId, shard: i };
    else if (identity.clusterId !== cluster.id) {
      throw new SchemaError(
        `shard ${names[i]} belongs to cluster ${identity.clusterId} but shard ${names[cluster.shard]} to cluster ${cluster.id}: the list mixes shards of different clusters`,
      );
    }
  });
  return cluster?.id;
}

/** One shard's record against its place in this client's list (position, count, placement function, shard keys). */
export function checkShardIdentity(identity: ShardIdentity, position: number, name: string, config: PlacementConfig): void {
  if (identity.placement !== PLACEMENT_FUNCTION) {
    throw new SchemaError(`shard ${name} records the placement function '${identity.placement}'; this client places rows by '${PLACEMENT_FUNCTION}' (upgrade every client together)`);
  }
  if (!config.mapped) checkListPosition(identity, position, name, config);
  for (const table of config.tables) {
    const recordedKey = identity.shardKeys.get(table.name);
    if (recordedKey !== undefined && recordedKey !== shardKeyOf(table)) {
      throw new SchemaError(`table ${table.name}: shard ${name} places its rows by (${recordedKey}), this client by (${shardKeyOf(table)}): every client must declare the same shardKeys`);
    }
  }
}

/** Without a placement map: the shard's place in this client's list must be the one it recorded. */
function checkListPosition(identity: ShardIdentity, position: number, name: string, config: PlacementConfig): void {
  const advice = 'every client must list the same shards in the same order, with the same shardKeys';
  if (identity.shardCount !== config.shardCount) {
    throw new SchemaError(`shard ${name} records a cluster of ${identity.shardCount} shards; this client lists ${config.shardCount}: ${advice}`);
  }
  if (identity.position !== position) {
    throw new SchemaError(
      `shard ${name} records position ${identity.position} of ${identity.shardCount} in cluster ${identity.clusterId}; this client lists it at position ${position}: ` +
        `the list is in another order, or names one database twice (${advice})`,
    );
  }
}

/** After every shard of the list is recorded: marks the cluster complete on one shard (idempotent). */
export async function markClusterComplete(query: ShardQuery): Promise<void> {
  await query('update percolator_shard_identity set complete = true where not complete', []);
}

/**
 * Inside a shard's migration (its local transaction, under the migration
 * lock): records this shard's identity and the tables' shard keys where
 * none is recorded, then checks what is recorded. `clusterId` is taken as
 * the cluster's unless `adoptRecorded` (an id drawn by this client while no
 * shard recorded one: a concurrent first migrate() may have recorded its own
 * first). Returns the cluster id recorded.
 */
export async function recordShardIdentity(
  query: ShardQuery,
  position: number,
  name: string,
  config: PlacementConfig,
  clusterId: string,
  adoptRecorded: boolean,
): Promise<string> {
  // A shard recording its identity for the first time owns the slots of the initial layout (slot mod count = position), from map version 1, unless added later.
  await query(
    `with recorded as (
       insert into percolator_shard_identity (cluster_id, position, shard_count, placement) values ($1::uuid, $2, $3, $4)
       on conflict (singleton) do nothing returning position, shard_count)
     insert into percolator_owned_slots (slot, since_version)
       select slot, 1 from recorded, generate_series(0, $5::int - 1) slot where $6::boolean and slot % recorded.shard_count = recorded.position
       on conflict (slot) do nothing`,
    [clusterId, position, config.shardCount, PLACEMENT_FUNCTION, SLOT_COUNT, config.initialSlots ?? true],
  );
  const names = config.tables.map((t) => t.name);
  await query('insert into percolator_placement (table_name, shard_key) select * from unnest($1::text[], $2::text[]) on conflict (table_name) do nothing', [
    names,
    config.tables.map(shardKeyOf),
  ]);
  const identity = (await readRecorded(query, names))!;
  checkShardIdentity(identity, position, name, config);
  if (identity.clusterId !== clusterId && !adoptRecorded) {
    throw new SchemaError(`shard ${name} belongs to cluster ${identity.clusterId}, the other shards of this list to cluster ${clusterId}: the list mixes shards of different clusters`);
  }
  return identity.clusterId;
}
