/**
 * What every read statement adds so that a shard returns a slot's rows only
 * if it owned the slot at the reader's map version (schema/core/0008 and
 * 0009; docs/DESIGN.md "Moving slots with data"). The slots to leave out
 * are found once per statement: those granted here after the reader's
 * version, and those whose rows here are foreign at it (copied in ahead of
 * a switch, or frozen or released by the switch). In the steady state
 * there are none: the lookups are three index probes, and no row is
 * tested (slotReadFilterSql).
 */

/**
 * The slots whose rows here a reader at map version `version` (an SQL
 * bigint expression) must not see; null when there are none. Raises
 * PCSL1 (PlacementChangedError: the client reads the map again) when this
 * shard deleted the rows of a slot the reader's map says it holds.
 */
export function unownedSlotsSql(version: string): string {
  return `(select array_agg(__u.slot) from (
    select __o.slot from percolator_owned_slots __o where __o.since_version > ${version} and ${grantedAfter(version)}
    union all select __f.slot from percolator_foreign_slots __f where __f.foreign_from <= ${version} and ${foreignAt(version)}
    union all select percolator_refuse_stale_read(__f.slot, __f.refuse_below, ${version}) from percolator_foreign_slots __f
      where __f.refuse_below > ${version} and ${refusedAt(version)}) __u)`;
}

// Gates of the lookups above, each one index probe (max/min); Postgres runs a branch's scan only when its gate holds.
function grantedAfter(version: string): string {
  return `(select max(since_version) from percolator_owned_slots) > ${version}`;
}

function foreignAt(version: string): string {
  return `(select min(foreign_from) from percolator_foreign_slots) <= ${version}`;
}

function refusedAt(version: string): string {
  return `(select max(refuse_below) from percolator_foreign_slots) > ${version}`;
}

/**
 * What a read adds so that it returns only rows of slots this shard owned at
 * `version`: with `perRow`, a condition on each stored row (aliased `alias`)
 * testing its slot against unownedSlotsSql; without, a `gate`, a condition
 * the statement evaluates once, that there is nothing to leave out, and
 * else fails with PCSL3 (SlotFilterNeededError), and the reader sends it
 * again with `perRow` (shard-reads.ts). The gate goes on the first branch
 * of the statement, which reads no table rows (its GC check,
 * leadingGcCheckSql), so a failing gate costs no scan; in the scan's own
 * where clause Postgres would run it as a one-time filter, but still pass
 * every row through the filter's node. The steady state costs the check alone.
 */
export function slotReadFilterSql(alias: string, version: string, perRow: boolean): { rowCondition: string; gate: string } {
  if (perRow) return { rowCondition: `(${unownedSlotsSql(version)} is null or not (${alias}.slot = any(${unownedSlotsSql(version)}::int[])))`, gate: 'true' };
  return { rowCondition: 'true', gate: slotGateSql(version) };
}

/** True when a reader at `version` has nothing to leave out here; else raises PCSL3 (and PCSL1 as unownedSlotsSql does). */
export function slotGateSql(version: string): string {
  return `(select case when ${unownedSlotsSql(version)} is null then true else percolator_rows_to_filter(${version}) end)`;
}

/** Whether this shard's slot ownership changed after map version `version` (serializable validation): three index probes. */
export function ownershipChangedSql(version: string): string {
  return `(${grantedAfter(version)} or (select max(foreign_from) from percolator_foreign_slots) > ${version} or ${refusedAt(version)})`;
}

/** A statement's check alone (for reads by key, whose map sent each key to its owner): raises as unownedSlotsSql does, else true. */
export function staleReadCheckSql(version: string): string {
  return `not exists (select from percolator_foreign_slots __f where __f.refuse_below > ${version} and ${refusedAt(version)}
    and percolator_refuse_stale_read(__f.slot, __f.refuse_below, ${version}) is not null)`;
}
