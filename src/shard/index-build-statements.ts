import type { Statement } from './shard-pool.js';

/**
 * The statements of an index's life in the shard's catalogue
 * (`percolator_tables.index_state`, core migration 0006): 'building' while
 * an index created on a table with rows is filled in, null once complete
 * (src/txn/index-backfill.ts). Readers use an index only once no shard
 * says 'building'.
 */

/** Marks these indexes' storages as being filled in. */
export function markBuilding(names: readonly string[]): Statement {
  return { text: `update percolator_tables set index_state = 'building', updated_at = now() where name = any($1::text[])`, values: [names] };
}

/** Marks these indexes' storages as complete. */
export function markComplete(names: readonly string[]): Statement {
  return { text: 'update percolator_tables set index_state = null, updated_at = now() where name = any($1::text[])', values: [names] };
}

/** `name` and `building` of these storages as the shard catalogues them (a storage it does not catalogue is absent). */
export function indexStates(names: readonly string[]): Statement {
  return { text: `select name, index_state = 'building' as building from percolator_tables where name = any($1::text[])`, values: [names] };
}
