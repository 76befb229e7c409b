import { InvalidInputError } from '../errors.js';

/**
 * Keys hash into a fixed number of slots (shard-of.ts); the placement map
 * assigns each slot to a shard. The count never changes: a cluster grows by
 * moving slots, never by rehashing keys.
 */
export const SLOT_COUNT = 4096;

/** One shard of a cluster: its stable id (the position it recorded at its first migrate) and where to reach it. */
export interface PlacementShard {
  readonly id: number;
  readonly url: string;
}

/**
 * A versioned assignment of every slot to a shard, as the oracle keeps it
 * (or, without an oracle that keeps maps, the initial layout of a fixed
 * shard list). Immutable: a change is a new map with version + 1.
 * `generation` is the oracle's placement generation when this map was read.
 */
export class PlacementMap {
  constructor(
    readonly clusterId: string,
    readonly version: bigint,
    readonly shards: readonly PlacementShard[],
    /** Owner shard id per slot: a lookup is an array index. */
    readonly slots: Uint16Array,
    readonly generation: bigint = 0n,
  ) {
    if (slots.length !== SLOT_COUNT) throw new InvalidInputError(`a placement map has ${SLOT_COUNT} slots, got ${slots.length}`);
    const ids = new Set(shards.map((s) => s.id));
    for (const owner of slots) {
      if (!ids.has(owner)) throw new InvalidInputError(`placement map of cluster ${clusterId} v${version} assigns a slot to shard ${owner}, which it does not list`);
    }
  }

  /** Slot s on shard s mod n: the layout of a new cluster of `urls` (ids are list positions). */
  static initial(clusterId: string, urls: readonly string[]): PlacementMap {
    return new PlacementMap(clusterId, 1n, urls.map((url, id) => ({ id, url })), initialSlots(urls.length));
  }

  shardOfSlot(slot: number): number {
    return this.slots[slot]!;
  }

  /** The slots each shard owns, by shard id. */
  slotsByShard(): Map<number, number[]> {
    const owned = new Map<number, number[]>(this.shards.map((s) => [s.id, []]));
    this.slots.forEach((owner, slot) => owned.get(owner)!.push(slot));
    return owned;
  }

  /** Largest shard id plus one: the length of an array indexed by shard id. */
  get shardIdLimit(): number {
    return Math.max(...this.shards.map((s) => s.id)) + 1;
  }

  withGeneration(generation: bigint): PlacementMap {
    return new PlacementMap(this.clusterId, this.version, this.shards, this.slots, generation);
  }
}

export function initialSlots(shardCount: number): Uint16Array {
  const slots = new Uint16Array(SLOT_COUNT);
  for (let slot = 0; slot < SLOT_COUNT; slot++) slots[slot] = slot % shardCount;
  return slots;
}

/** The wire and storage form of the slots: 2 bytes little-endian per slot. */
export function encodeSlots(slots: Uint16Array): Uint8Array {
  const bytes = new Uint8Array(slots.length * 2);
  const view = new DataView(bytes.buffer);
  slots.forEach((owner, i) => view.setUint16(i * 2, owner, true));
  return bytes;
}

export function decodeSlots(bytes: Uint8Array): Uint16Array {
  if (bytes.length !== SLOT_COUNT * 2) throw new InvalidInputError(`placement slots must be ${SLOT_COUNT * 2} bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Uint16Array.from({ length: SLOT_COUNT }, (_, i) => view.getUint16(i * 2, true));
}
