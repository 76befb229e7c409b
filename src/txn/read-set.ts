import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { ReadKey, RecordedReads, ScannedPredicate } from './read-set-types.js';

const dialect = new PgDialect();

/** A filter as a scanned predicate records it (rendered by drizzle); none: the whole table. */
export function scannedFilter(where: SQL | undefined): Pick<ScannedPredicate, 'where'> {
  if (!where) return {};
  const rendered = dialect.sqlToQuery(where);
  return { where: { sql: rendered.sql, params: rendered.params } };
}

/** Everything a transaction read: serializable mode validates it at commit. */
export class ReadSet implements RecordedReads {
  /**
   * The placement map version when the transaction began: its reads were
   * placed by it or a newer one. Validation refuses (PlacementChangedError)
   * on a shard whose slot ownership changed after it.
   */
  constructor(readonly mapVersion: bigint) {}

  readonly keys: ReadKey[] = [];
  readonly predicates: ScannedPredicate[] = [];
  /** Keys recorded, per table: a one-column key by its text (a table's keys all have its key's arity), others as JSON. */
  private readonly seen = new Map<string, Set<string | null>>();

  addKey(key: ReadKey): void {
    let seen = this.seen.get(key.table);
    if (!seen) this.seen.set(key.table, (seen = new Set()));
    const id = key.keyTexts.length === 1 ? (key.keyTexts[0] as string | null) : JSON.stringify(key.keyTexts);
    if (seen.has(id)) return;
    seen.add(id);
    this.keys.push(key);
  }

  addPredicate(predicate: ScannedPredicate): void {
    this.predicates.push(predicate);
  }

  get empty(): boolean {
    return this.keys.length === 0 && this.predicates.length === 0;
  }
}
