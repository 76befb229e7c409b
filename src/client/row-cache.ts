import type { TableMeta } from '../schema/table-meta.js';
import type { KeyValues, Row } from '../txn/engine-contract.js';
import { keyOf, keyString } from './row-key.js';

/** Most rows one transaction remembers; beyond it, new keys are simply read again. */
const MAX_CACHED_ROWS = 10_000;

/**
 * @internal What one transaction knows of rows in its own view (its
 * snapshot plus its own writes), by primary key: a row image, or null for
 * "absent". A snapshot never changes under a transaction (a commit at or
 * below its start ts had its locks in place before that ts was issued, and
 * readers resolve locks), so a key read once need not be read again; the
 * transaction's own writes update the entries. This turns the usual
 * read-then-`update ... where id = ?` into one round trip instead of two.
 * Entries are copies: rows handed to the application may be mutated.
 */
export class RowCache {
  private readonly rows = new Map<TableMeta, Map<string, Row | null>>();
  private size = 0;

  /** Rows for these keys if every one is known (absent keys omitted), else undefined. */
  lookup(meta: TableMeta, keys: readonly KeyValues[]): Row[] | undefined {
    const table = this.rows.get(meta);
    if (!table) return undefined;
    const found: Row[] = [];
    for (const key of keys) {
      const row = table.get(keyString(key));
      if (row === undefined) return undefined;
      if (row !== null) found.push({ ...row });
    }
    return found;
  }

  /** Rows read or written (current images). */
  remember(meta: TableMeta, rows: readonly Row[]): void {
    for (const row of rows) this.set(meta, keyString(keyOf(meta, row)), { ...row });
  }

  /** Keys known to be absent (read and not found, or deleted by this transaction). */
  forget(meta: TableMeta, keys: readonly KeyValues[]): void {
    for (const key of keys) this.set(meta, keyString(key), null);
  }

  private set(meta: TableMeta, id: string, row: Row | null): void {
    let table = this.rows.get(meta);
    if (!table) this.rows.set(meta, (table = new Map()));
    if (table.has(id)) {
      table.set(id, row);
    } else if (this.size < MAX_CACHED_ROWS) {
      table.set(id, row);
      this.size++;
    }
  }
}
