import type { IndexMeta, TableMeta } from '../schema/table-meta.js';
import { indexStates } from '../shard/index-build-statements.js';
import type { ShardPool } from '../shard/shard-pool.js';

/** How often an index not known complete is looked up again. */
const RECHECK_MS = 1_000;

/**
 * Which indexes reads may use: those every shard catalogues as complete
 * (not 'building': index-backfill.ts). Complete is final (indexes are never
 * dropped), so it is remembered for good; anything else is asked again at
 * most every second, and a shard that does not answer makes the index
 * unusable for now (the read scans instead).
 */
export class IndexReadiness {
  private readonly complete = new Set<string>();
  private readonly lastCheck = new Map<string, { at: number; check: Promise<void> }>();

  constructor(private readonly shards: readonly ShardPool[]) {}

  /** Marks indexes complete (this engine built or created them). */
  markComplete(indexes: readonly IndexMeta[]): void {
    for (const index of indexes) this.complete.add(index.storage.name);
  }

  async usable(table: TableMeta): Promise<readonly IndexMeta[]> {
    if (table.indexes.some((index) => !this.complete.has(index.storage.name))) await this.check(table);
    return table.indexes.filter((index) => this.complete.has(index.storage.name));
  }

  private check(table: TableMeta): Promise<void> {
    const last = this.lastCheck.get(table.name);
    if (last && Date.now() - last.at < RECHECK_MS) return last.check;
    const names = table.indexes.map((index) => index.storage.name).filter((name) => !this.complete.has(name));
    const check = Promise.all(this.shards.map((shard) => shard.query<{ name: string; building: boolean | null }>(indexStates(names))))
      .then((answers) => {
        for (const name of names) {
          if (answers.every(({ rows }) => rows.some((r) => r.name === name && r.building !== true))) this.complete.add(name);
        }
      })
      .catch(() => {});
    this.lastCheck.set(table.name, { at: Date.now(), check });
    return check;
  }
}
