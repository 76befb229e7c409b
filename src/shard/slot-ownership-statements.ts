import type { Statement } from './shard-pool.js';

/**
 * The statements of slot ownership on one shard (schema/core/0008-slot-ownership.sql):
 * what the fence of prewrites, locking reads and primary placeholders checks.
 */

/**
 * Stops new writes to `slots` here. Run in a local transaction after
 * lockOwnedSlots, which waits for every statement that passed the fence
 * to end: once this commits, every lock written in these slots is visible.
 * Returns the slots frozen (those this shard owns).
 */
export function freezeSlots(slots: readonly number[]): Statement {
  return { text: 'update percolator_owned_slots set frozen = true where slot = any($1::int[]) returning slot', values: [slots] };
}

/** Taken before changing ownership: conflicts with the fence's reads, so it waits for prewrites in flight. */
export const lockOwnedSlots: Statement = { text: 'lock table percolator_owned_slots in access exclusive mode', values: [] };

/** Writes to `slots` are accepted here again (a handover that did not happen). */
export function unfreezeSlots(slots: readonly number[]): Statement {
  return { text: 'update percolator_owned_slots set frozen = false where slot = any($1::int[])', values: [slots] };
}

/** This shard owns `slots` from map `version` on (idempotent). */
export function grantSlots(slots: readonly number[], version: bigint): Statement {
  return {
    text: `insert into percolator_owned_slots (slot, since_version) select unnest($1::int[]), $2::bigint
on conflict (slot) do update set since_version = excluded.since_version, frozen = false`,
    values: [slots, version.toString()],
  };
}

/** This shard no longer owns `slots`. */
export function releaseSlots(slots: readonly number[]): Statement {
  return { text: 'delete from percolator_owned_slots where slot = any($1::int[])', values: [slots] };
}

/** The slots this shard owns, and which of them are frozen. */
export const ownedSlots: Statement = { text: 'select slot, since_version::text as since_version, frozen from percolator_owned_slots order by slot', values: [] };
