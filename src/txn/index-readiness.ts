import type { IndexMeta, TableMeta } from '../schema/table-meta.js';
import type { Timestamp } from '../timestamp.js';
import { indexStates, type IndexStateRow } from '../shard/index-build-statements.js';
import type { ShardPool } from '../shard/shard-pool.js';

/** How often an index not known complete is looked up again. */
const RECHECK_MS = 1_000;

/**
 * Which indexes a read may use: those every shard catalogues as complete
 * (not 'building': index-backfill.ts), at snapshots from their
 * `index_valid_from` on (older snapshots miss entries written by the
 * build, or rows older than the index). Complete is remembered for good
 * (a migrate() that drops the index later fences this client's writes, and
 * its reads through the missing storage fall back to a scan:
 * src/client/read-rows.ts); anything else is asked
 * again at most every second (or after this engine's migrate()), and a
 * shard that does not answer makes the index unusable for now (the read
 * scans instead).
 */
export class IndexReadiness {
  /** Complete indexes by storage name: the first timestamp whose snapshots see every entry. */
  private readonly validFrom = new Map<string, Timestamp>();
  private readonly lastCheck = new Map<string, { at: number; check: Promise<void> }>();

  constructor(private readonly shards: readonly ShardPool[]) {}

  /** Forgets what was not complete (a migrate() may have completed it). */
  invalidate(): void {
    this.lastCheck.clear();
  }

  async usable(table: TableMeta, readTs: Timestamp): Promise<readonly IndexMeta[]> {
    if (table.indexes.some((index) => !this.validFrom.has(index.storage.name))) await this.check(table);
    return table.indexes.filter((index) => {
      const from = this.validFrom.get(index.storage.name);
      return from !== undefined && readTs >= from;
    });
  }

  private check(table: TableMeta): Promise<void> {
    const last = this.lastCheck.get(table.name);
    if (last && Date.now() - last.at < RECHECK_MS) return last.check;
    const names = table.indexes.map((index) => index.storage.name).filter((name) => !this.validFrom.has(name));
    const check = Promise.all(this.shards.map((shard) => shard.query<IndexStateRow>(indexStates(names))))
      .then((answers) => {
        for (const name of names) {
          const rows = answers.map(({ rows }) => rows.find((r) => r.name === name));
          if (rows.some((r) => !r || r.building === true || r.valid_from === null)) continue;
          this.validFrom.set(name, rows.reduce((max, r) => (BigInt(r!.valid_from!) > max ? BigInt(r!.valid_from!) : max), 0n));
        }
      })
      .catch(() => {});
    this.lastCheck.set(table.name, { at: Date.now(), check });
    return check;
  }
}
