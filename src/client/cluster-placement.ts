import { InvalidInputError, SchemaError } from '../errors.js';
import type { OracleClient } from '../oracle/oracle-client.js';
import type { TableMeta } from '../schema/table-meta.js';
import { checkShardIdentities, type ShardIdentity } from '../shard/shard-identity.js';
import { PlacementMap } from '../shard/placement-map.js';
import { placementMapOf, storedPlacementOf, type PlacementSource } from '../txn/placement.js';
import { readIdentities, shardNames } from './probe-shards.js';

/** What percolator() builds its engine from: the shard URLs and, when the oracle keeps one, the cluster's map. */
export interface ClusterPlacement {
  readonly shards: readonly string[];
  readonly placement?: { map: PlacementMap; source?: PlacementSource | undefined } | undefined;
}

/**
 * Decides where rows live before the engine is built, and checks the shards.
 * - The oracle keeps the cluster's map: the map's shards are the cluster,
 *   whatever order or subset `shards` lists (it only has to name shards of
 *   that cluster): clients cannot disagree about placement.
 * - A cluster migrated but not yet known to the oracle (migrated by an
 *   engine without one): the list is checked as recorded and becomes map
 *   version 1.
 * - Nothing migrated yet: the list's initial layout, until migrate()
 *   records the cluster and registers its map.
 * - Without an oracle that keeps maps (a custom TimestampSource): the list,
 *   checked against what the shards record, as the only placement.
 */
export async function resolveClusterPlacement(
  shards: readonly string[] | undefined,
  /** What each of `shards` records (probeShardList), read before the oracle is dialled. */
  probed: readonly (ShardIdentity | undefined)[] | undefined,
  oracle: OracleClient | undefined,
  tables: readonly TableMeta[],
  timeoutMs: number,
): Promise<ClusterPlacement> {
  const names = tables.map((t) => t.name);
  if (!shards) {
    if (!oracle) throw new InvalidInputError('shards is required with a custom TimestampSource (only the oracle keeps a placement map)');
    const read = await oracle.readPlacement(undefined);
    if (!read.placement) throw new InvalidInputError('the oracle keeps no cluster yet: give shards (the Postgres URLs of a new cluster) to create one');
    const map = placementMapOf(read.placement, read.generation);
    await checkAgainstMap(map.shards.map((s) => s.url), map, tables, timeoutMs, names);
    return { shards: [], placement: { map, source: oracle } };
  }
  const identities = probed ?? (await probeShardList(shards, tables, timeoutMs));
  const clusterId = identities.find((identity) => identity !== undefined)?.clusterId;
  if (oracle && clusterId !== undefined) {
    const read = await oracle.readPlacement(clusterId);
    if (read.placement) {
      const map = placementMapOf(read.placement, read.generation);
      checkShardIdentities(identities, shardNames(shards), { shardCount: map.shards.length, tables, mapped: true });
      return { shards: [], placement: { map, source: oracle } };
    }
  }
  checkShardIdentities(identities, shardNames(shards), { shardCount: shards.length, tables });
  if (!oracle) return { shards };
  if (clusterId !== undefined && identities.some((identity) => identity?.complete)) {
    // Migrated before the oracle kept its map: the checked list is version 1.
    const written = await oracle.writePlacement(storedPlacementOf(PlacementMap.initial(clusterId, shards)), 0n);
    return { shards: [], placement: { map: placementMapOf(written.placement!, written.generation), source: oracle } };
  }
  return { shards, placement: { map: PlacementMap.initial('', shards), source: oracle } };
}

/** Checks a `shards` option and reads what each shard records: ShardUnavailableError names an unreachable one. */
export function probeShardList(shards: readonly string[], tables: readonly TableMeta[], timeoutMs: number): Promise<(ShardIdentity | undefined)[]> {
  if (!Array.isArray(shards) || shards.length === 0 || !shards.every((s) => typeof s === 'string')) {
    throw new InvalidInputError('shards must be a non-empty array of Postgres connection URLs');
  }
  return readIdentities(shards, timeoutMs, tables.map((t) => t.name));
}

/** Connecting by the oracle's map alone: every shard it names must record its cluster. */
async function checkAgainstMap(urls: readonly string[], map: PlacementMap, tables: readonly TableMeta[], timeoutMs: number, names: readonly string[]): Promise<void> {
  const identities: (ShardIdentity | undefined)[] = await readIdentities(urls, timeoutMs, names);
  identities.forEach((identity, i) => {
    if (identity?.clusterId !== map.clusterId) {
      throw new SchemaError(`shard ${shardNames(urls)[i]} named by the oracle's placement map of cluster ${map.clusterId} records ${identity ? `cluster ${identity.clusterId}` : 'no identity'}`);
    }
  });
  checkShardIdentities(identities, shardNames(urls), { shardCount: map.shards.length, tables, mapped: true });
}
