import type { Statement } from './shard-pool.js';

/**
 * The statements of slot ownership on one shard: which slots it owns since
 * which map version (schema/core/0008-slot-ownership.sql: what the fence of
 * prewrites, locking reads and primary placeholders checks), and which
 * slots' rows it holds without owning them, for which map versions
 * (schema/core/0009-slot-history.sql: what reads leave out, slot-read-filter.ts).
 * A move calls them in this order: receiveSlots on the destination, copy,
 * freezeSlots on the source, copy the rest, grantSlots on the destination,
 * the map's compare-and-set, releaseSlots on the source, and once the GC
 * safe point passes the switch, deleteSlotRows on the source. A switch that
 * did not happen is undone by unfreezeSlots on the source, abandonSlots
 * then deleteSlotRows on the destination. Every call is idempotent.
 */

/** Taken before changing ownership: conflicts with the fence's reads, so it waits for prewrites in flight. */
export const lockOwnedSlots: Statement = { text: 'lock table percolator_owned_slots in access exclusive mode', values: [] };

/**
 * On the destination, before any row of `slots` is copied here: their rows
 * are foreign (no read at any map version returns them) and no write to
 * them is accepted (they are not owned). Returns the slots received: not
 * those this shard owns, nor those whose released rows are still here
 * (deleteSlotRows first).
 */
export function receiveSlots(slots: readonly number[]): Statement {
  return {
    text: `insert into percolator_foreign_slots as f (slot, foreign_from)
select s, 0 from unnest($1::int[]) s where not exists (select from percolator_owned_slots o where o.slot = s)
on conflict (slot) do update set foreign_from = 0 where f.foreign_from is null or f.foreign_from = 0
returning slot`,
    values: [slots],
  };
}

/**
 * On the source, in a local transaction after lockOwnedSlots (which waits
 * for every statement that passed the fence to end): no new lock rows in
 * `slots` here, and this shard owns them only for map versions below
 * `untilVersion` (a reader at that version or newer leaves their rows
 * here out). Once this commits, every lock written in these slots is
 * visible. Returns the slots frozen (those this shard owns).
 */
export function freezeSlots(slots: readonly number[], untilVersion: bigint): Statement {
  return {
    text: `with frozen as (update percolator_owned_slots set frozen = true where slot = any($1::int[]) returning slot)
insert into percolator_foreign_slots as f (slot, foreign_from) select slot, $2::bigint from frozen
on conflict (slot) do update set foreign_from = excluded.foreign_from
returning slot`,
    values: [slots, untilVersion.toString()],
  };
}

/** The rows of these slots here are no longer foreign at any version (what grant and unfreeze leave). */
function settleForeign(owned: string): string {
  return `cleared as (delete from percolator_foreign_slots f where f.slot in (select slot from ${owned}) and f.refuse_below = 0 returning 1)
update percolator_foreign_slots f set foreign_from = null where f.slot in (select slot from ${owned}) and f.refuse_below > 0`;
}

/** On the source, undoing freezeSlots (a switch that did not happen): writes accepted again, owned at every version again. */
export function unfreezeSlots(slots: readonly number[]): Statement {
  return {
    text: `with unfrozen as (update percolator_owned_slots set frozen = false where slot = any($1::int[]) returning slot),
${settleForeign('unfrozen')}`,
    values: [slots],
  };
}

/** On the destination: owned from map `version` on (reads at that version or newer return their rows), writes accepted. */
export function grantSlots(slots: readonly number[], version: bigint): Statement {
  return {
    text: `with granted as (insert into percolator_owned_slots (slot, since_version) select unnest($1::int[]), $2::bigint
on conflict (slot) do update set since_version = excluded.since_version, frozen = false returning slot),
${settleForeign('granted')}`,
    values: [slots, version.toString()],
  };
}

/**
 * On the destination, undoing receiveSlots or grantSlots (a switch that
 * did not happen): not owned, its rows here foreign at every version,
 * until deleteSlotRows deletes them.
 */
export function abandonSlots(slots: readonly number[]): Statement {
  return {
    text: `with dropped as (delete from percolator_owned_slots where slot = any($1::int[]) returning slot)
insert into percolator_foreign_slots as f (slot, foreign_from) select unnest($1::int[]), 0
on conflict (slot) do update set foreign_from = 0`,
    values: [slots],
  };
}

/**
 * On the source, after the map names the new owner: not owned from map
 * `version` on (writes refused), its rows readable by readers at older
 * versions until deleteSlotRows, allowed once the GC safe point passes
 * `switchTs` (the switch's oracle timestamp; null: not known).
 */
export function releaseSlots(slots: readonly number[], version: bigint, switchTs: bigint | null): Statement {
  return {
    text: `with released as (delete from percolator_owned_slots where slot = any($1::int[]) returning slot)
insert into percolator_foreign_slots as f (slot, foreign_from, switch_ts) select unnest($1::int[]), $2::bigint, $3::bigint
on conflict (slot) do update set foreign_from = least(coalesce(f.foreign_from, excluded.foreign_from), excluded.foreign_from),
  switch_ts = coalesce(excluded.switch_ts, f.switch_ts)`,
    values: [slots, version.toString(), switchTs?.toString() ?? null],
  };
}

/**
 * Deletes every stored row of `slots` here (refused, SQLSTATE PCSL2, for a
 * slot this shard owns). Of a released slot, readers at map versions below
 * its release are refused from then on. Returns { deleted }: rows deleted.
 */
export function deleteSlotRows(slots: readonly number[]): Statement {
  return { text: 'select percolator_delete_slot_rows($1::int[])::text as deleted', values: [slots] };
}

/** The smallest map version from which this shard owns any of `slots` (null: it owns none). */
export function ownedSince(slots: readonly number[]): Statement {
  return { text: 'select min(since_version)::text as since from percolator_owned_slots where slot = any($1::int[])', values: [slots] };
}

/** The slots this shard owns, and which of them are frozen. */
export const ownedSlots: Statement = { text: 'select slot, since_version::text as since_version, frozen from percolator_owned_slots order by slot', values: [] };

/** The slots whose rows this shard holds without owning them at every version (see schema/core/0009-slot-history.sql). */
export const foreignSlots: Statement = {
  text: 'select slot, foreign_from::text as foreign_from, refuse_below::text as refuse_below, switch_ts::text as switch_ts from percolator_foreign_slots order by slot',
  values: [],
};

/**
 * Taken by a change of placement on every shard of the map, for the
 * session (placement-change-lock.ts); `locked` is false while another
 * change holds it. The key is this lock's alone ('pcplacem' in ASCII).
 */
export const tryPlacementChangeLock: Statement = { text: "select pg_try_advisory_lock(x'7063706c6163656d'::bigint) as locked", values: [] };
