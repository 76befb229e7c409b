import { InvalidInputError, PlacementChangedError } from '../errors.js';
import { PlacementMap } from '../shard/placement-map.js';
import { abandonSlots, deleteSlotRows, freezeSlots, grantSlots, lockOwnedSlots, ownedSince, releaseSlots, unfreezeSlots } from '../shard/slot-ownership-statements.js';
import type { ShardPool } from '../shard/shard-pool.js';
import { placementMapOf, storedPlacementOf, type Placement } from './placement.js';

/** Slots to hand from one shard to another (shard ids of the map). */
export interface SlotSwitch {
  readonly from: number;
  readonly to: number;
  readonly slots: readonly number[];
}

/**
 * The switch of a slot move (docs/DESIGN.md "Moving slots"): `from` stops
 * accepting writes to the slots (waiting for prewrites in flight), `to`
 * owns them from the next map version, the oracle's map names `to`, and
 * `from` lets them go. The caller guarantees that `to` already holds every
 * version and lock of the slots that `from` holds (for empty slots: none).
 * Every step is idempotent, and the map changes in one compare-and-set: a
 * switch interrupted anywhere leaves each slot with one owner in the map
 * (writes to a frozen slot are refused and retried by clients), and running
 * it again completes it. Readers at the old map version keep reading
 * `from`'s rows of the slots (and `to` leaves its copies out) until
 * deleteSlotRows on `from`, once the GC safe point passes the switch.
 * Returns the map after the switch.
 */
export async function switchSlots(placement: Placement, move: SlotSwitch): Promise<PlacementMap> {
  const source = placement.source;
  if (!source || !placement.mapped) throw new InvalidInputError('slots move only in a cluster whose placement map the oracle keeps');
  await placement.refresh();
  const map = placement.map;
  const slots = [...new Set(move.slots)].sort((a, b) => a - b);
  const from = placement.shards[move.from];
  const to = placement.shards[move.to];
  if (!from || !to || !map.shards.some((s) => s.id === move.to)) throw new InvalidInputError(`shards ${move.from} and ${move.to} must both be in the map of cluster ${map.clusterId}`);
  const done = slots.every((slot) => map.shardOfSlot(slot) === move.to);
  if (!done) {
    const elsewhere = slots.filter((slot) => map.shardOfSlot(slot) !== move.from && map.shardOfSlot(slot) !== move.to);
    if (elsewhere.length > 0) throw new InvalidInputError(`slots ${elsewhere.join(', ')} are on neither shard ${move.from} nor ${move.to}`);
    const version = map.version + 1n;
    await freezeOwner(from, slots, version);
    await to.query(grantSlots(slots, version));
    const next = new PlacementMap(map.clusterId, version, map.shards, Uint16Array.from(map.slots, (owner, slot) => (slots.includes(slot) ? move.to : owner)));
    const written = await source.writePlacement(storedPlacementOf(next), map.version);
    if (!written.applied) {
      // Another change won: undo ours, so that each slot keeps the owner the stored map names (`to` holds no rows of them: empty slots).
      const undone = slots.filter((slot) => placementMapOf(written.placement!, 0n).shardOfSlot(slot) !== move.to);
      await to.query(abandonSlots(undone));
      await to.query(deleteSlotRows(undone));
      // Only those: a slot the winning map gives to `to` was switched by a concurrent run of this move, and writes on `from` would be lost.
      await from.query(unfreezeSlots(undone));
      throw new PlacementChangedError(from.name, `the placement map of cluster ${map.clusterId} changed from version ${map.version} meanwhile; run the switch again`);
    }
    placement.adopt(placementMapOf(written.placement!, written.generation));
  }
  // The old owner refuses writes to the slots from now on; readers with an older map still read its rows until deleteSlotRows.
  // At the version `to` owns them from (a rerun may hold a newer map): readers between the two must not see both copies.
  const since = (await to.query<{ since: string | null }>(ownedSince(slots))).rows[0]?.since;
  const switchTs = await source.getTimestamp();
  await from.query(releaseSlots(slots, since ? BigInt(since) : placement.map.version, switchTs));
  return placement.map;
}

/**
 * Stops new writes to `slots` on their owner `shard`, waiting for the
 * statements in flight that passed its fence: once this returns, every
 * lock ever written there in the slots is visible. It owns them for map
 * versions below `untilVersion` only (idempotent).
 */
export async function freezeOwner(shard: ShardPool, slots: readonly number[], untilVersion: bigint): Promise<void> {
  await shard.transaction(async (client) => {
    await shard.query(lockOwnedSlots, { client });
    await shard.query(freezeSlots(slots, untilVersion), { client });
  });
}
