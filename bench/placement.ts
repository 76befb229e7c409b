import type { ShardOf } from './key-picker.js';

/**
 * Row placement shared by every system of a run, so that each draws the
 * same key sequence and `--cross-shard-fraction` means the same thing for
 * all of them: `2pc` places its rows with it, `local` ignores it (one
 * database), and it must agree with percolator's own placement.
 */
export function hashPlacement(shardCount: number): ShardOf {
  return (id) => fmix32(id) % shardCount;
}

/** MurmurHash3's finalizer: spreads consecutive ids evenly. */
function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
