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
