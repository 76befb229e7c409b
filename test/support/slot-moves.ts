import { expect } from 'vitest';
import type { TableMeta } from '../../src/schema/table-meta.js';
import { slotOf } from '../../src/shard/shard-of.js';
import type { Placement } from '../../src/txn/placement.js';
import { queryOnShards } from './raw-shards.js';

/** The distinct slots of rows `{ [column]: value }` of `meta`, sorted. */
export function slotsOfRows(meta: TableMeta, column: string, values: readonly unknown[]): number[] {
  return [...new Set(values.map((value) => slotOf(meta, { [column]: value })))].sort((a, b) => a - b);
}

/** Of `slots`, those the map puts on shard `shard`. */
export function slotsOn(placement: Placement, shard: number, slots: readonly number[]): number[] {
  return slots.filter((slot) => placement.map.shardOfSlot(slot) === shard);
}

/**
 * Every slot of `slots` has exactly one owner: the shard the oracle's map
 * names records it as owned and not frozen, no other shard owns it for
 * the map's version.
 */
export async function expectOneOwnerEach(urls: readonly string[], placement: Placement, slots: readonly number[]): Promise<void> {
  await placement.refresh();
  const owned = await queryOnShards<{ slot: number; frozen: boolean }>(urls, `select slot, frozen from percolator_owned_slots where slot = any('{${slots.join(',')}}'::int[])`);
  for (const slot of slots) {
    const owners = owned.flatMap((rows, shard) => (rows.some((r) => r.slot === slot && !r.frozen) ? [shard] : []));
    expect(owners, `owners of slot ${slot}`).toEqual([placement.map.shardOfSlot(slot)]);
  }
}

/** Rows of `relation` in `slots` per shard (the destination's copy, or what a source still keeps). */
export async function slotRowsPerShard(urls: readonly string[], relation: string, slots: readonly number[]): Promise<number[]> {
  const counts = await queryOnShards<{ n: string }>(urls, `select count(*) as n from ${relation} where slot = any('{${slots.join(',')}}'::int[])`);
  return counts.map((rows) => Number(rows[0]!.n));
}
