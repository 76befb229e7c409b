import type { Timestamp } from '../timestamp.js';

/** A scan as it ran: the predicate in the SQL drizzle rendered, over the user's table name. */
export interface ScannedPredicate {
  readonly table: string;
  /** `new PgDialect().sqlToQuery(where)`: text with $n placeholders, and its params. Absent: the whole table. */
  readonly where?: { readonly sql: string; readonly params: readonly unknown[] } | undefined;
  readonly shards: readonly number[];
  readonly readTs: Timestamp;
  /**
   * The read returned no keys (an aggregate): validation must also find rows
   * that left the set, i.e. versions and locks whose key's image at readTs
   * matched the filter. A scan's returned keys cover those already.
   */
  readonly leavingRows?: boolean | undefined;
}

/** A key read (returned by a read), in driver texts, with its shard. */
export interface ReadKey {
  readonly table: string;
  readonly keyTexts: readonly (string | null)[];
  readonly shard: number;
  /** The timestamp the key was read at: start_ts (absent), or a locking read's for_update_ts. */
  readonly readTs?: Timestamp | undefined;
}

/** What a transaction read, as the engine's contract shows it (read-set.ts records it). */
export interface RecordedReads {
  readonly keys: readonly ReadKey[];
  readonly predicates: readonly ScannedPredicate[];
  readonly empty: boolean;
}
