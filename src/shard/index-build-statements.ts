import type { Statement } from './shard-pool.js';

/**
 * The statements of an index's life in the shard's catalogue
 * (`percolator_tables.index_state`, core migration 0006): 'building' while
 * an index created on a table with rows is filled in, null once complete
 * (src/txn/index-backfill.ts), and the first timestamp whose snapshots
 * see every entry. Readers use an index only once no shard says
 * 'building', at snapshots from that timestamp on.
 */

/** Marks these indexes' storages as being filled in. */
export function markBuilding(names: readonly string[]): Statement {
  return { text: `update percolator_tables set index_state = 'building', updated_at = now() where name = any($1::text[])`, values: [names] };
}

/** Marks these indexes' storages as complete. */
export function markComplete(names: readonly string[]): Statement {
  return { text: 'update percolator_tables set index_state = null, updated_at = now() where name = any($1::text[])', values: [names] };
}

/** Sets the first snapshot that sees every entry of these complete indexes, where not set yet. */
export function setValidFrom(names: readonly string[], ts: bigint): Statement {
  return {
    text: 'update percolator_tables set index_valid_from = $2::bigint where name = any($1::text[]) and index_state is null and index_valid_from is null',
    values: [names, ts.toString()],
  };
}

/** One catalogued index storage's state on a shard. */
export interface IndexStateRow {
  name: string;
  building: boolean | null;
  /** index_valid_from as text; null while not set. */
  valid_from: string | null;
}

/** IndexStateRow of these storages as the shard catalogues them (a storage it does not catalogue is absent). */
export function indexStates(names: readonly string[]): Statement {
  return {
    text: `select name, index_state = 'building' as building, index_valid_from::text as valid_from from percolator_tables where name = any($1::text[])`,
    values: [names],
  };
}
