import { PlacementChangeInProgressError } from '../errors.js';
import { tryPlacementChangeLock } from '../shard/slot-ownership-statements.js';
import type { Placement } from './placement.js';

/**
 * Runs `work` (adding, removing or rebalancing shards) as the cluster's
 * only change of placement. A move freezes its slots on the source for the
 * next map version; were another change to take that version first, its
 * readers would find the slots on neither shard, and two movers of one slot
 * would undo each other's switch. Held as a session advisory lock on every
 * shard of the map (any two changes meet on all of them), released when
 * `work` ends or its process dies; a second change fails at once with
 * PlacementChangeInProgressError rather than waiting behind a long move.
 */
export async function withPlacementChangeLock<T>(placement: Placement, work: () => Promise<T>): Promise<T> {
  await placement.refresh();
  const pools = placement.map.shards.map((s) => s.id).sort((a, b) => a - b).map((id) => placement.shards[id]!);
  const lockFrom = async (i: number): Promise<T> => {
    const pool = pools[i];
    if (!pool) return work();
    return pool.session(async (client) => {
      const { rows } = await pool.query<{ locked: boolean }>(tryPlacementChangeLock, { client });
      if (!rows[0]?.locked) throw new PlacementChangeInProgressError(`another change of the placement (shards add, remove or rebalance) is running on shard ${pool.name}; run this one after it`);
      return lockFrom(i + 1);
    });
  };
  return lockFrom(0);
}
