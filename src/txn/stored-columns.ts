import { SchemaError } from '../errors.js';
import type { ShardPool } from '../shard/shard-pool.js';
import { StoredColumnsChangedError } from '../shard/stored-columns-changed.js';
import { catalogueStorage, readCatalogueEntry } from '../shard/table-catalogue.js';
import type { TableStorage } from '../shard/table-storage.js';

/** How often one statement is built again after the columns fence refused it (a migrate() per attempt would be needed to exhaust it). */
const ATTEMPTS = 4;

/**
 * The columns each shard stores of a table, as far as statements that copy
 * lock rows by column list (commit, roll forward) need them. Those carry
 * a fence (commit-statements.ts): when a migrate() changed the table's
 * columns since this client's declaration, the shard refuses the copy
 * (StoredColumnsChangedError, nothing written) and it runs again built from
 * the shard's catalogue, which lists the stored columns. So an older client
 * rolling forward a newer client's lock, or committing its own transaction
 * prewritten before the change, copies every stored column. Learnt per
 * (shard, table) and kept.
 */
export class StoredColumns {
  private readonly learnt = new Map<string, TableStorage>();

  constructor(private readonly shards: readonly ShardPool[]) {}

  /** The storage to build `storage`'s copying statements from on shard `shard`. */
  on(shard: number, storage: TableStorage): TableStorage {
    return this.learnt.get(`${shard}\u0000${storage.meta.name}`) ?? storage;
  }

  /**
   * Runs `work`, which builds its copying statements on shard `shard` with
   * `on` (a local transaction of several, or one statement); when the fence
   * refuses one, learns that table's stored columns and runs it again. A
   * statement naming a column dropped since cannot even be planned
   * (SQLSTATE 42703, nothing ran): the tables it was built for are learnt.
   */
  async run<T>(shard: number, work: (on: (storage: TableStorage) => TableStorage) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const used = new Set<string>();
      try {
        return await work((storage) => {
          used.add(storage.meta.name);
          return this.on(shard, storage);
        });
      } catch (error) {
        if (attempt >= ATTEMPTS) throw error;
        if (error instanceof StoredColumnsChangedError) await this.learn(shard, error.storedTable);
        else if (error instanceof SchemaError && error.sqlState === '42703') await Promise.all([...used].map((table) => this.learn(shard, table)));
        else throw error;
      }
    }
  }

  private async learn(shard: number, table: string): Promise<void> {
    const entry = await readCatalogueEntry(this.shards[shard]!, table);
    if (!entry) throw new SchemaError(`table ${table} is no longer catalogued on shard ${this.shards[shard]!.name}: it was dropped`);
    this.learnt.set(`${shard}\u0000${table}`, catalogueStorage(entry));
  }
}
