import type { TableMeta } from '../schema/table-meta.js';
import type { KeyValues, Row } from '../txn/engine-contract.js';
import { keyId, rowKeyId } from './row-key.js';

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
  private readonly rows = new Map<TableMeta, Map<unknown, Row | null>>();
  private size = 0;

  /** `capacity` 0 makes a cache that remembers nothing (single-statement sessions). */
  constructor(private readonly capacity = MAX_CACHED_ROWS) {}

  /** Rows for these keys if every one is known (absent keys omitted), else undefined. */
  lookup(meta: TableMeta, keys: readonly KeyValues[]): Row[] | undefined {
    const table = this.rows.get(meta);
    if (!table) return undefined;
    const found: Row[] = [];
    for (const key of keys) {
      const row = table.get(keyId(key));
      if (row === undefined) return undefined;
      if (row !== null) found.push({ ...row });
    }
    return found;
  }

  /** Rows this transaction wrote (their new images). */
  remember(meta: TableMeta, rows: readonly Row[]): void {
    if (this.capacity === 0) return;
    const table = this.tableOf(meta);
    for (const row of rows) this.set(table, rowKeyId(meta, row), { ...row });
  }

  /** Keys this transaction deleted. */
  forget(meta: TableMeta, keys: readonly KeyValues[]): void {
    if (this.capacity === 0) return;
    const table = this.tableOf(meta);
    for (const key of keys) this.set(table, keyId(key), null);
  }

  /**
   * What a read returned: its rows, and keys it looked for and did not find.
   * A read fills only keys not known yet: a query of the same transaction
   * running concurrently may have written a key after this read's statement
   * was built, and that write is the newer truth (the snapshot part of an
   * entry never changes, so an entry already there is never stale).
   */
  rememberRead(meta: TableMeta, rows: readonly Row[], absent: readonly KeyValues[] = []): void {
    if (this.capacity === 0) return;
    const table = this.tableOf(meta);
    for (const row of rows) {
      const id = rowKeyId(meta, row);
      if (!table.has(id)) this.set(table, id, { ...row });
    }
    for (const key of absent) {
      const id = keyId(key);
      if (!table.has(id)) this.set(table, id, null);
    }
  }

  /** Forgets every row of a table (a locking scan moved keys it did not return to their newest versions). */
  dropTable(meta: TableMeta): void {
    const table = this.rows.get(meta);
    if (!table) return;
    this.size -= table.size;
    this.rows.delete(meta);
  }

  private tableOf(meta: TableMeta): Map<unknown, Row | null> {
    let table = this.rows.get(meta);
    if (!table) this.rows.set(meta, (table = new Map()));
    return table;
  }

  private set(table: Map<unknown, Row | null>, id: unknown, row: Row | null): void {
    if (table.has(id)) {
      table.set(id, row);
    } else if (this.size < this.capacity) {
      table.set(id, row);
      this.size++;
    }
  }
}
