import { setTimeout as sleep } from 'node:timers/promises';
import { PlacementChangedError, SlotMoveError } from '../errors.js';
import { locksInSlots } from '../shard/slot-copy-statements.js';
import type { ShardPool } from '../shard/shard-pool.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { FoundLock } from './found-lock.js';
import type { LockResolver } from './lock-resolver.js';

/**
 * Resolves every lock left in `slots` on the (frozen) source with the lock
 * resolver: locks of committed transactions are rolled forward there (their
 * versions are then copied with the rest), of rolled-back or expired ones
 * rolled back; live ones are waited for (they commit or expire within
 * their TTL, which their heartbeat may extend) until `deadline`, then
 * SlotMoveError. No new lock can appear: the slots are frozen.
 *
 * A transaction whose primary is in a frozen slot and expired cannot be
 * decided there (deciding may write a rollback placeholder at the primary,
 * which the slot fence refuses in a frozen slot): such locks count as live
 * here. The mover therefore also runs this once before freezing, with
 * `deadline` now and `wait` false, to resolve what is already decidable.
 */
export async function resolveSlotLocks(resolver: LockResolver, from: ShardPool, tables: readonly TableStorage[], slots: readonly number[], deadline: number, wait = true): Promise<number> {
  let resolved = 0;
  for (let attempt = 0; ; attempt++) {
    const found: FoundLock[] = [];
    for (const storage of tables) {
      const { rows } = await from.query<{ __lock_key: string[]; __lock_start: string; __primary_table: string; __primary_key: string[]; __expired: boolean }>(locksInSlots(storage, slots));
      for (const r of rows) {
        found.push({ storage, shard: from.index, keyTexts: r.__lock_key, startTs: BigInt(r.__lock_start), primaryTable: r.__primary_table, primaryKey: r.__primary_key, expired: r.__expired });
      }
    }
    if (found.length === 0) return resolved;
    const { alive, waitMs } = await resolver.resolveLocks(found).catch((error: unknown) => {
      if (!(error instanceof PlacementChangedError)) throw error;
      return { alive: found, waitMs: 50 };
    });
    resolved += found.length - alive.length;
    if (alive.length === 0) continue;
    if (Date.now() >= deadline) {
      if (!wait) return resolved;
      throw new SlotMoveError(`${alive.length} live locks of transactions still running in the moving slots on shard ${from.name}; the move is rolled back, run it again`);
    }
    await sleep(Math.max(5, Math.min(waitMs + 1, 2 ** Math.min(attempt, 7), deadline - Date.now())));
  }
}
