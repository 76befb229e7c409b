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
 * names records it as owned (frozen while a move of it is under way or
 * was interrupted), and no other shard does.
 */
export async function expectOneOwnerEach(urls: readonly string[], placement: Placement, slots: readonly number[]): Promise<void> {
  await placement.refresh();
  const owned = await queryOnShards<{ slot: number }>(urls, `select slot from percolator_owned_slots where slot = any('{${slots.join(',')}}'::int[])`);
  for (const slot of slots) {
    const owners = owned.flatMap((rows, shard) => (rows.some((r) => r.slot === slot) ? [shard] : []));
    expect(owners, `owners of slot ${slot}`).toEqual([placement.map.shardOfSlot(slot)]);
  }
}

/** Rows of `relation` in `slots` per shard (the destination's copy, or what a source still keeps). */
export async function slotRowsPerShard(urls: readonly string[], relation: string, slots: readonly number[]): Promise<number[]> {
  const counts = await queryOnShards<{ n: string }>(urls, `select count(*) as n from ${relation} where slot = any('{${slots.join(',')}}'::int[])`);
  return counts.map((rows) => Number(rows[0]!.n));
}

/**
 * Collects garbage until no finished move still keeps its source's rows
 * (the safe point passed every switch and finishMoves dropped them), so
 * that scans see each row once even where reads do not filter by owner.
 */
export async function dropMovedRows(db: { collectGarbage(options?: { force?: boolean }): Promise<unknown>; placement: Placement }, urls: readonly string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await db.collectGarbage({ force: true });
    const open = await queryOnShards<{ n: string }>(urls, `select count(*) as n from percolator_slot_moves where phase not in ('dropped', 'aborted')`);
    if (open.every((rows) => Number(rows[0]!.n) === 0)) return;
    if (Date.now() > deadline) throw new Error('moves still keep their sources\' rows');
    await new Promise((r) => setTimeout(r, 300));
  }
}
