import { PlacementChangedError, type PercolatorErrorOptions } from '../errors.js';

/**
 * A read sent without its per-row slot filter reached a shard holding rows
 * of slots it did not own at the reader's map version (a move under way,
 * or released rows not yet deleted): nothing was returned, and the read
 * runs again on that shard with the filter (slot-read-filter.ts). Should
 * it escape, it is a PlacementChangedError (retryable).
 */
export class SlotFilterNeededError extends PlacementChangedError {}

export function slotFilterNeeded(shardName: string, what: string, options: PercolatorErrorOptions): SlotFilterNeededError {
  return new SlotFilterNeededError(shardName, `${what}: read again with the slot filter`, options);
}
