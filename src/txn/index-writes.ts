import { UniqueViolationError } from '../errors.js';
import type { KeyValues, Row } from '../schema/row.js';
import type { IndexMeta, TableMeta } from '../schema/table-meta.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { Placement } from './placement.js';
import { keyIdOf, keyTextsOf, mutationOf, type Mutation } from './mutation.js';
import type { WriteBuffer } from './write-buffer.js';

/**
 * Secondary-index maintenance of one transaction: the index entries are
 * keys of the same transaction as the rows (docs/DESIGN.md, "Secondary
 * indexes"). Invariants, kept by the code below:
 *
 * 1. For every row key a transaction writes, it also writes the entries
 *    that take each index from the row's image *before* the transaction to
 *    its image *after* it (its last buffered write): entries of the old
 *    image that the new one lacks are deleted, entries of the new image
 *    that the old one lacked are put. Rows and entries commit at one
 *    commit_ts (atomic visibility), so at every snapshot the live entries
 *    are exactly those of the live rows.
 * 2. "Before" is the image the row's prewrite check guards: the newest
 *    committed version if the key is locked by a locking read (its
 *    prewrite threshold is then for_update_ts: the lock's image when the
 *    key was locked before its first write, else read again once locked),
 *    else the snapshot's image at start_ts, given by the caller (it read
 *    the row) or read here at start_ts. Any version committed after that image fails
 *    the row's prewrite (write conflict), so the entries deleted are the
 *    ones present when the transaction commits.
 * 3. Deltas are computed from (before, after) per key, never write by
 *    write, so the order and number of a transaction's writes to a row do
 *    not matter. They are recomputed (`sync`) before any read of an index's
 *    storage (the transaction reads its own entries) and before commit.
 * 4. A unique entry that none of the transaction's own rows held before is
 *    put with insert semantics: prewrite refuses it when a live entry
 *    exists (UniqueViolationError naming the constraint), and conflicts on
 *    another transaction's lock or newer version (WriteConflictError; the
 *    retry then sees the winner). Two rows of the transaction claiming one
 *    unique entry are a UniqueViolationError at once. Rows with a NULL in
 *    an indexed column have no entry (NULLs never collide).
 */
export class IndexWrites {
  /** Per table with indexes: each written key's image before the transaction (null: absent; undefined: not known yet). */
  private readonly before = new Map<string, Map<string, BeforeImage>>();
  /** Tables written since their entries were last recomputed, by name. */
  private readonly dirty = new Map<string, TableMeta>();
  /** The sync pass in flight per table name. */
  private readonly syncing = new Map<string, Promise<void>>();

  constructor(
    private readonly buffer: WriteBuffer,
    private readonly placement: Placement,
    private readonly storageFor: (meta: TableMeta) => TableStorage,
    /** Committed rows of `table` for these keys (absent keys omitted), this transaction's writes ignored: at start_ts, or (`newest`) the newest. */
    private readonly readBefore: (table: TableMeta, keys: KeyValues[], newest: boolean) => Promise<Row[]>,
    /** Whether this transaction holds a locking read's lock on the key. */
    private readonly isLocked: (table: string, keyId: string) => boolean,
  ) {}

  /**
   * Records that rows of `table` are about to be written: `before` is each
   * key's image before the transaction when the caller knows it (null:
   * absent), undefined when not. A key written earlier in the
   * transaction keeps its first "before".
   */
  noteWrite(table: TableMeta, keyId: string, key: KeyValues, before: Row | null | undefined, fromLock = false): void {
    if (table.indexes.length === 0) return;
    let keys = this.before.get(table.name);
    if (!keys) this.before.set(table.name, (keys = new Map()));
    if (!keys.has(keyId)) keys.set(keyId, { key, image: before, newest: fromLock });
    this.dirty.set(table.name, table);
  }

  /** Brings the buffered entries of every written table up to date (before commit). */
  async syncAll(): Promise<void> {
    for (const table of [...this.dirty.values()]) await this.sync(table);
  }

  /** Brings the buffered entries of `table`'s indexes up to date with its buffered rows (before reading an index of it). */
  async sync(table: TableMeta): Promise<void> {
    // One pass at a time per table: a caller arriving meanwhile waits for it, then looks again.
    for (let running = this.syncing.get(table.name); running; running = this.syncing.get(table.name)) await running;
    if (!this.dirty.has(table.name)) return;
    const pass = this.syncPasses(table).finally(() => this.syncing.delete(table.name));
    this.syncing.set(table.name, pass);
    await pass;
  }

  private async syncPasses(table: TableMeta): Promise<void> {
    const keys = this.before.get(table.name)!;
    // A write noted while a read below is in flight marks the table dirty again: then another pass reads its image.
    while (this.dirty.has(table.name)) {
      this.dirty.delete(table.name);
      // A key locked by a locking read after it was written: its prewrite is guarded from for_update_ts, so its before-image is the newest committed one.
      for (const [keyId, entry] of keys) {
        if (!entry.newest && this.isLocked(table.name, keyId)) Object.assign(entry, { image: undefined, newest: true });
      }
      for (const newest of [false, true]) {
        const unknown = [...keys].filter(([, k]) => k.image === undefined && k.newest === newest);
        if (unknown.length === 0) continue;
        const storage = this.storageFor(table);
        const rows = await this.readBefore(table, unknown.map(([, k]) => k.key), newest);
        const found = new Map(rows.map((row) => [keyIdOf(keyTextsOf(storage, table.primaryKey.map((c) => row[c.key]))), row]));
        for (const [keyId, entry] of unknown) entry.image = found.get(keyId) ?? null;
      }
      if (this.dirty.has(table.name)) continue;
      for (const index of table.indexes) this.buffer.replaceTable(index.storage.name, this.entryWrites(table, index, keys));
    }
  }

  /** The entry writes of one index: from the entries of every written row's before-image to those of its current image. */
  private entryWrites(table: TableMeta, index: IndexMeta, keys: Map<string, BeforeImage>): Mutation[] {
    const storage = this.storageFor(index.storage);
    const old = new Map<string, Mutation>();
    const now = new Map<string, Mutation>();
    for (const [keyId, { image }] of keys) {
      const entryBefore = image && this.entryOf(storage, index, image);
      if (entryBefore) old.set(entryBefore.keyId, entryBefore);
      const current = this.buffer.get(table.name, keyId);
      const entryNow = current?.op === 'put' && current.row ? this.entryOf(storage, index, current.row) : undefined;
      if (!entryNow) continue;
      if (now.has(entryNow.keyId)) throw new UniqueViolationError(table.name, index.columns.map((c) => current!.row![c.key]), index.name);
      now.set(entryNow.keyId, entryNow);
    }
    const writes: Mutation[] = [];
    for (const [entryId, entry] of now) {
      const held = old.get(entryId);
      if (!held) writes.push(index.unique ? { ...entry, isInsert: true } : entry);
      // A unique entry passing from one of our rows to another: a plain put (we delete nothing of anyone else's).
      else if (JSON.stringify(held.valueTexts) !== JSON.stringify(entry.valueTexts)) writes.push(entry);
    }
    for (const [entryId, entry] of old) if (!now.has(entryId)) writes.push(mutationOf(storage, entry.row!, 'del', false, this.placement));
    return writes;
  }

  /** The entry of `row` in `index` (a put, not an insert), or undefined when an indexed column is NULL. */
  private entryOf(storage: TableStorage, index: IndexMeta, row: Row): Mutation | undefined {
    const entry = entryRowOf(index, row);
    return entry && mutationOf(storage, entry, 'put', false, this.placement);
  }
}

/** The entry of `row` in `index` as a row of its storage, or undefined when an indexed column is NULL (no entry). */
export function entryRowOf(index: IndexMeta, row: Row): Row | undefined {
  if (index.columns.some((c) => row[c.key] === null || row[c.key] === undefined)) return undefined;
  const entry: Row = {};
  for (const c of index.storage.columns) entry[c.key] = row[c.key];
  return entry;
}

/** A written key's image before the transaction. */
interface BeforeImage {
  readonly key: KeyValues;
  /** null: absent; undefined: not known yet (read at sync). */
  image: Row | null | undefined;
  /** The image is the newest committed one (the key is locked by this transaction), not the snapshot's. */
  newest: boolean;
}

/** The entries of `rows` in a unique index (rows with a NULL in it have none), for the insert-time check. */
export function uniqueEntryKeys(index: IndexMeta, rows: readonly Row[]): KeyValues[] {
  return rows.filter((row) => index.columns.every((c) => row[c.key] !== null && row[c.key] !== undefined)).map((row) => index.columns.map((c) => row[c.key]));
}
