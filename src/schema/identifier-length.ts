import { SchemaError } from '../errors.js';

/**
 * Postgres keeps the first 63 bytes of an identifier and drops the rest
 * without a word. It does so in every statement alike, so a long table name
 * still works, but a column's result field comes back under the cut name
 * and an index's storage tables could collide with another's: such names
 * are refused when the table is described.
 */
export const MAX_IDENTIFIER_BYTES = 63;

/** The longest suffix a table's storage adds to its name (the index `T__locks_start_ts`). */
export const LONGEST_STORAGE_SUFFIX = '__locks_start_ts';

/** A SchemaError unless `name` (plus the storage's `suffix`) fits in an identifier. */
export function refuseLongIdentifier(name: string, suffix: string, what: () => string): void {
  if (Buffer.byteLength(name + suffix) > MAX_IDENTIFIER_BYTES) {
    throw new SchemaError(`${what()}: ${name}${suffix} is longer than Postgres's ${MAX_IDENTIFIER_BYTES}-byte identifiers; give it a shorter name`);
  }
}
