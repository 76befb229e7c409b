import { SchemaError } from '../errors.js';
import type { ShardPool } from '../shard/shard-pool.js';
import { catalogueStorage, readCatalogue, readCatalogueEntry, type CatalogueEntry } from '../shard/table-catalogue.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { Timestamp } from '../timestamp.js';

/**
 * Where lock resolution and version GC find the storage of a table: the
 * client's own declaration (migrate()/register()) when it has one, else the
 * shards' table catalogue (schema/core/0003-table-catalogue.sql), which
 * lists every table stored on a shard. A client therefore decides and
 * collects the locks and versions of tables outside its schema, such as the
 * primary of a transaction written by a client with a wider schema.
 */
export class TableDirectory {
  /** Storages built from catalogue entries, by name; `placeable`: the entry knew the shard key. */
  private readonly catalogued = new Map<string, { storage: TableStorage; placeable: boolean }>();

  constructor(
    private readonly shards: readonly ShardPool[],
    private readonly registered: ReadonlyMap<string, TableStorage>,
  ) {}

  /**
   * The storage of a transaction's primary table, good for placing its
   * primary key on a shard: the registered table, or the catalogue entry of
   * shard `hint` (the shard where its lock was met), else of any shard.
   * Undefined when no shard catalogues the table with its shard key.
   */
  async locatePrimary(name: string, hint: number): Promise<TableStorage | undefined> {
    const own = this.registered.get(name);
    if (own) return own;
    const known = this.catalogued.get(name);
    if (known?.placeable) return known.storage;
    let entry = await readCatalogueEntry(this.shards[hint]!, name);
    if (entry?.shardKeyLength == null) {
      const others = this.shards.filter((s) => s.index !== hint);
      const failures: unknown[] = [];
      const entries = await Promise.all(others.map((s) => readCatalogueEntry(s, name).catch((error: unknown) => void failures.push(error))));
      entry = entries.find((e) => e?.shardKeyLength != null) ?? entry;
      // Not found while some shard did not answer: the answer may be there (retryable), not "uncatalogued".
      if (entry?.shardKeyLength == null && failures.length > 0) throw failures[0];
    }
    if (entry?.shardKeyLength == null) return undefined;
    return this.fromEntry(entry);
  }

  /** locatePrimary, or a SchemaError naming the transaction whose primary cannot be placed. */
  async primaryStorage(name: string, hint: number, startTs: Timestamp): Promise<TableStorage> {
    const storage = await this.locatePrimary(name, hint);
    if (storage) return storage;
    throw new SchemaError(
      `table ${name}, which holds the primary of transaction ${startTs}, is neither known to this client nor catalogued with its shard key on the shards: migrate it with a client that declares it`,
    );
  }

  /** Every table catalogued on `shard` (GC): the registered storage where there is one. */
  async tablesOn(shard: ShardPool): Promise<TableStorage[]> {
    const entries = await readCatalogue(shard);
    return entries.map((entry) => this.registered.get(entry.name) ?? this.fromEntry(entry));
  }

  private fromEntry(entry: CatalogueEntry): TableStorage {
    const placeable = entry.shardKeyLength !== null;
    const known = this.catalogued.get(entry.name);
    // Kept once built: only a shard key learnt later is news. Columns a migrate() changed since are
    // learnt by the statements that copy them (stored-columns.ts); the others name no value columns.
    if (known && (known.placeable || !placeable)) return known.storage;
    const storage = catalogueStorage(entry);
    this.catalogued.set(entry.name, { storage, placeable });
    return storage;
  }
}
