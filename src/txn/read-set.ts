import type { Timestamp } from '../timestamp.js';

/** A scan as it ran: the predicate in the SQL drizzle rendered, over the user's table name. */
export interface ScannedPredicate {
  readonly table: string;
  /** `new PgDialect().sqlToQuery(where)`: text with $n placeholders, and its params. Absent: the whole table. */
  readonly where?: { readonly sql: string; readonly params: readonly unknown[] } | undefined;
  readonly shards: readonly number[];
  readonly readTs: Timestamp;
}

/** A key read (returned by a read), in driver texts, with its shard. */
export interface ReadKey {
  readonly table: string;
  readonly keyTexts: readonly (string | null)[];
  readonly shard: number;
  /** The timestamp the key was read at: start_ts (absent), or a locking read's for_update_ts. */
  readonly readTs?: Timestamp | undefined;
}

/** Everything a transaction read: serializable mode validates it at commit. */
export class ReadSet {
  readonly keys: ReadKey[] = [];
  readonly predicates: ScannedPredicate[] = [];
  private readonly seen = new Set<string>();

  addKey(key: ReadKey): void {
    const id = `${key.table}\u0000${JSON.stringify(key.keyTexts)}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.keys.push(key);
  }

  addPredicate(predicate: ScannedPredicate): void {
    this.predicates.push(predicate);
  }

  get empty(): boolean {
    return this.keys.length === 0 && this.predicates.length === 0;
  }
}
