import type { TableMeta } from '../schema/table-meta.js';
import type { Row } from '../schema/row.js';
import { keyTextOf } from './key-text.js';

/**
 * Shard placement: FNV-1a (32 bit) over the canonical driver text of the
 * table's shard-key values (key-text.ts). Canonical text (what Postgres receives) makes
 * the hash independent of JS representation (1, 1n and '1' for a bigint
 * column land together) and stable across processes and versions.
 */
export function shardOf(table: TableMeta, row: Row, shardCount: number): number {
  return shardOfTexts(table.shardKey.map((c) => keyTextOf(c, row[c.key])), shardCount);
}

/** The shard of a whole primary key given as key texts (the shard key is a prefix of it). */
export function shardOfKey(table: TableMeta, keyTexts: readonly (string | null)[], shardCount: number): number {
  return shardOfTexts(keyTexts.slice(0, table.shardKey.length), shardCount);
}

export function shardOfTexts(shardKeyTexts: readonly (string | null)[], shardCount: number): number {
  return fnv1a32(JSON.stringify(shardKeyTexts)) % shardCount;
}

export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
