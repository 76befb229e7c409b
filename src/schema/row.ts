/**
 * A row of a user table as the client and the engine pass it: a plain object
 * keyed by the drizzle column *key* (the TS property name, as in
 * `$inferSelect`), holding JS values as drizzle maps them.
 */
export type Row = Record<string, unknown>;

/** A primary key's values, in primary-key column order. */
export type KeyValues = readonly unknown[];
