import { SchemaError } from '../errors.js';

/**
 * Postgres keeps the first 63 bytes of an identifier and drops the rest
 * without a word: a column's result field would come back under the cut
 * name, and a table's storage names would be cut into each other
 * (`T__locks` and `T__latest` both to `T__l`) or away from the names
 * statements look them up by (`T__prewrite` in pg_proc). Such names are
 * refused when the table is described.
 */
export const MAX_IDENTIFIER_BYTES = 63;

/** The longest suffix a table's storage adds to its name (the index `T__locks_start_ts`). */
export const LONGEST_STORAGE_SUFFIX = '__locks_start_ts';

/**
 * The longest suffix of a storage object statements name (the function
 * `T__lock_keys`; `T__versions`, `T__latest`, `T__prewrite` are shorter).
 * A table name that fits this leaves only the index `T__locks_start_ts`
 * to be cut, which nothing names after it is created.
 */
export const LONGEST_NAMED_STORAGE_SUFFIX = '__lock_keys';

/** A SchemaError unless `name` (plus the storage's `suffix`) fits in an identifier; `what` says what to rename. */
export function refuseLongIdentifier(name: string, suffix: string, what: () => string): void {
  const bytes = Buffer.byteLength(name + suffix);
  if (bytes > MAX_IDENTIFIER_BYTES) {
    const limit = MAX_IDENTIFIER_BYTES - Buffer.byteLength(suffix);
    throw new SchemaError(`${what()} ${name} is ${bytes - Buffer.byteLength(suffix)} bytes long; Postgres cuts identifiers to ${MAX_IDENTIFIER_BYTES} bytes, so it may have at most ${limit}${suffix ? ` (its storage adds ${suffix})` : ''}: give it a shorter name`);
  }
}
