import type pg from 'pg';
import type { ShardPool } from '../shard/shard-pool.js';
import { lockMoves } from '../shard/slot-move-journal-statements.js';
import { abandonSlots, deleteSlotRows, receiveSlots, unfreezeSlots } from '../shard/slot-ownership-statements.js';

/**
 * The ownership steps of a move that switchSlots does not take
 * (src/shard/slot-ownership-statements.ts): the destination receives the
 * slots before any row is copied (their rows there are foreign: no read
 * returns them, no write is accepted), and gives them up again when a move
 * is rolled back; the source is unfrozen then; a shard's rows of slots it
 * gave away (or never got) are deleted. Receiving and dropping on a shard
 * hold its moves lock (lockMoves), and each runs `then` under it.
 */

/**
 * Receives `slots` on `to` and runs `then` in the same local transaction if
 * all were received. Returns the slots received: a shard still keeping
 * rows of a slot from an earlier move away does not receive it.
 */
export async function receiveOn(to: ShardPool, slots: readonly number[], then: (client: pg.PoolClient) => Promise<unknown>): Promise<number[]> {
  return to.transaction(async (client) => {
    await to.query(lockMoves, { client });
    const received = (await to.query<{ slot: number }>(receiveSlots(slots), { client })).rows.map((r) => r.slot);
    if (received.length === slots.length) await then(client);
    return received;
  });
}

/** Deletes the rows of the slots that `choose` (run under the moves lock) returns; returns the rows deleted. */
export async function dropOn(shard: ShardPool, choose: (client: pg.PoolClient) => Promise<readonly number[]>): Promise<number> {
  return shard.transaction(async (client) => {
    await shard.query(lockMoves, { client });
    const slots = await choose(client);
    if (slots.length === 0) return 0;
    return Number((await shard.query<{ deleted: string }>(deleteSlotRows(slots), { client })).rows[0]!.deleted);
  });
}

/** Undoes receiving (and any grant) on `to`, then deletes its rows of the slots. */
export async function abandonOn(to: ShardPool, slots: readonly number[]): Promise<void> {
  await to.query(abandonSlots(slots));
  await dropOn(to, async () => slots);
}

export async function unfreezeOn(from: ShardPool, slots: readonly number[]): Promise<void> {
  await from.query(unfreezeSlots(slots));
}
