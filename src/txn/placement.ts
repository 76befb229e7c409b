import type { Logger } from '../logger.js';
import type { OracleClient } from '../oracle/oracle-client.js';
import type { StoredPlacement } from '../oracle/placement-store.js';
import type { TableMeta } from '../schema/table-meta.js';
import type { KeyTexts } from '../shard/key-text.js';
import { decodeSlots, encodeSlots, PlacementMap } from '../shard/placement-map.js';
import { slotOfKey } from '../shard/shard-of.js';
import type { ShardPool } from '../shard/shard-pool.js';

/** Where the engine reads and writes its cluster's placement map: the oracle client. */
export type PlacementSource = Pick<OracleClient, 'readPlacement' | 'writePlacement' | 'placementGeneration' | 'getTimestamp'>;

/**
 * The engine's current placement map and the shard pools it names (indexed
 * by shard id). A lookup is two array indexes; the map is read again when a
 * timestamp answer shows a newer generation, or a shard refuses a slot it
 * does not own. Maps only move forward (by version).
 */
export class Placement {
  private refreshing: Promise<void> | undefined;

  constructor(
    private current: PlacementMap,
    /** Indexed by shard id; pools of shards added by a newer map are appended. */
    readonly shards: ShardPool[],
    private readonly openShard: (id: number, url: string) => ShardPool,
    private readonly logger: Logger,
    readonly source?: PlacementSource,
  ) {}

  get map(): PlacementMap {
    return this.current;
  }

  /** The oracle keeps this cluster's map (else: the initial layout of a fixed list, until migrate() registers it). */
  get mapped(): boolean {
    return this.current.clusterId !== '';
  }

  shardOfKey(table: TableMeta, keyTexts: KeyTexts | readonly (string | null)[]): number {
    return this.current.slots[slotOfKey(table, keyTexts)]!;
  }

  /** True when a timestamp answer carried a generation above the one this map was read at. */
  get stale(): boolean {
    return this.mapped && this.source !== undefined && this.source.placementGeneration > this.current.generation;
  }

  /** Reads the map again (one read at a time); adopts it if newer. */
  refresh(): Promise<void> {
    const source = this.source;
    if (!source || !this.mapped) return Promise.resolve();
    this.refreshing ??= (async () => {
      const read = await source.readPlacement(this.current.clusterId);
      if (read.placement) this.adopt(placementMapOf(read.placement, read.generation));
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /**
   * After the first migrate() of a cluster the oracle keeps no map of:
   * stores the initial layout of this engine's list as version 1 (or adopts
   * the map a concurrent client stored first).
   */
  async register(clusterId: string): Promise<void> {
    if (this.mapped || !this.source) return;
    const initial = PlacementMap.initial(clusterId, this.current.shards.map((s) => s.url));
    const written = await this.source.writePlacement(storedPlacementOf(initial), 0n);
    this.adopt(placementMapOf(written.placement!, written.generation));
  }

  /** Adopts `map` if it is newer than the current one (or the same version read at a newer generation). */
  adopt(map: PlacementMap): void {
    const current = this.current;
    if (current.clusterId !== '' && (map.version < current.version || (map.version === current.version && map.generation <= current.generation))) return;
    for (const shard of map.shards) {
      if (!this.shards[shard.id]) this.shards[shard.id] = this.openShard(shard.id, shard.url);
    }
    if (map.version !== current.version) this.logger.info({ cluster: map.clusterId, version: map.version.toString() }, 'placement map changed');
    this.current = map;
  }
}

export function placementMapOf(stored: StoredPlacement, generation: bigint): PlacementMap {
  return new PlacementMap(stored.clusterId, stored.version, stored.shards, decodeSlots(stored.slots), generation);
}

export function storedPlacementOf(map: PlacementMap): StoredPlacement {
  return { clusterId: map.clusterId, version: map.version, shards: map.shards, slots: encodeSlots(map.slots) };
}
