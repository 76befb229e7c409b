import type { TableMeta } from '../schema/table-meta.js';
import type { Row } from '../schema/row.js';
import { keyTextOf } from './key-text.js';
import { SLOT_COUNT } from './placement-map.js';

/**
 * Placement: FNV-1a (32 bit) over the canonical driver text of the table's
 * shard-key values (key-text.ts) gives the slot (mod SLOT_COUNT); the
 * placement map (placement-map.ts) gives the slot's shard. Canonical text
 * (what Postgres receives) makes the hash independent of JS representation
 * (1, 1n and '1' for a bigint column land together) and stable across
 * processes and versions. All rows of one shard-key value share a slot, so
 * they stay together whatever moves.
 */
export function slotOf(table: TableMeta, row: Row): number {
  return slotOfTexts(table.shardKey.map((c) => keyTextOf(c, row[c.key])));
}

/** The slot of a whole primary key given as key texts (the shard key is a prefix of it). */
export function slotOfKey(table: TableMeta, keyTexts: readonly (string | null)[]): number {
  return slotOfTexts(keyTexts.slice(0, table.shardKey.length));
}

export function slotOfTexts(shardKeyTexts: readonly (string | null)[]): number {
  return fnv1a32(JSON.stringify(shardKeyTexts)) % SLOT_COUNT;
}

/** The shard of these shard-key texts in the initial layout of `shardCount` shards. */
export function shardOfTexts(shardKeyTexts: readonly (string | null)[], shardCount: number): number {
  return slotOfTexts(shardKeyTexts) % shardCount;
}

/** The shard of `row` in the initial layout of `shardCount` shards (slot s on shard s mod n), before any slot moved. */
export function shardOf(table: TableMeta, row: Row, shardCount: number): number {
  return slotOf(table, row) % shardCount;
}

export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
