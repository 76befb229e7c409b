import { setTimeout as sleep } from 'node:timers/promises';
import { SchemaError } from '../errors.js';
import { currentSnapshot, readSlotPage, storedColumnsOf, writeSlotRows, type StoredColumn } from '../shard/slot-copy-statements.js';
import type { ShardPool } from '../shard/shard-pool.js';
import type { TableStorage } from '../shard/table-storage.js';

/** One storage table a move copies: its columns as the source stores them, the key order, and how a copy twice is kept once. */
interface CopiedRelation {
  readonly relation: string;
  readonly columns: readonly StoredColumn[];
  readonly order: readonly string[];
  readonly key: readonly string[];
  readonly keep: 'first' | 'newer';
}

export interface SlotCopyOptions {
  /** Rows per page read and written (default 1000). */
  readonly pageRows?: number | undefined;
  /** Throttle: at most this many rows copied per second, averaged over the move (default: unthrottled). */
  readonly maxRowsPerSecond?: number | undefined;
  /** Called after each page with the rows it copied. */
  readonly onRows?: ((rows: number) => void) | undefined;
}

/**
 * Copies a batch of slots' committed rows (every kept version, rollback
 * markers and lock-only records included, and the latest rows) of every
 * table the source catalogues, from one shard to another, page by page in
 * key order. Locks are not copied: the move resolves them on the source
 * before its last copy. Every write is idempotent (a version is written
 * once; a latest row only replaced by a newer one), so a copy can be
 * repeated or resumed from anywhere.
 */
export class SlotCopier {
  private relations: CopiedRelation[] | undefined;
  private readonly pageRows: number;
  private readonly started = Date.now();
  private copied = 0;

  constructor(
    private readonly from: ShardPool,
    private readonly to: ShardPool,
    private readonly tables: readonly TableStorage[],
    private readonly slots: readonly number[],
    private readonly options: SlotCopyOptions = {},
  ) {
    this.pageRows = options.pageRows ?? 1000;
  }

  /** The source's current snapshot: a later copy `since` it finds every row written after it. */
  async snapshot(): Promise<string> {
    const { rows } = await this.from.query<{ snapshot: string }>(currentSnapshot);
    return rows[0]!.snapshot;
  }

  /** Copies every row of the slots (`since`: only rows written by transactions that snapshot did not see); returns the rows copied. */
  async copy(since?: string): Promise<number> {
    let total = 0;
    for (const relation of await this.relationsToCopy()) {
      let after: (string | null)[] | undefined;
      for (;;) {
        const { rows } = await this.from.query<{ r: (string | null)[] }>(
          readSlotPage({ relation: relation.relation, columns: relation.columns, order: relation.order, slots: this.slots, after, since, limit: this.pageRows }),
        );
        if (rows.length === 0) break;
        const values = rows.map((row) => row.r);
        await this.to.query(writeSlotRows(relation.relation, relation.columns, relation.key, relation.keep, values));
        total += rows.length;
        this.options.onRows?.(rows.length);
        await this.throttle(rows.length);
        if (rows.length < this.pageRows) break;
        const last = values[values.length - 1]!;
        after = relation.order.map((name) => last[relation.columns.findIndex((c) => c.name === name)] ?? null);
      }
    }
    return total;
  }

  /** Sleeps until the rows copied so far fit the rate. */
  private async throttle(rows: number): Promise<void> {
    this.copied += rows;
    const rate = this.options.maxRowsPerSecond;
    if (!rate || rate <= 0) return;
    const due = this.started + (this.copied / rate) * 1000;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
  }

  /** Versions and latest rows of every catalogued table, with the columns both shards store (the same, or a SchemaError). */
  private async relationsToCopy(): Promise<CopiedRelation[]> {
    if (this.relations) return this.relations;
    const relations: CopiedRelation[] = [];
    for (const storage of this.tables) {
      const key = storage.pk.map((c) => c.name);
      for (const [relation, keep] of [
        [storage.meta.versionsTable, 'first'],
        [storage.meta.latestTable, 'newer'],
      ] as const) {
        const columns = await this.columnsOn(this.from, relation);
        const there = await this.columnsOn(this.to, relation);
        const differ = columns.filter((c) => !there.some((t) => t.name === c.name && t.type === c.type));
        if (columns.length === 0 || differ.length > 0 || there.length !== columns.length) {
          throw new SchemaError(
            `table ${relation} is stored with other columns on shard ${this.to.name} than on ${this.from.name} (${differ.map((c) => `${c.name} ${c.type}`).join(', ') || 'column count'}): run migrate() before moving slots`,
          );
        }
        const order = keep === 'first' ? [...key, 'commit_ts'] : key;
        relations.push({ relation, columns, order, key: order, keep });
      }
    }
    return (this.relations = relations);
  }

  private async columnsOn(shard: ShardPool, relation: string): Promise<StoredColumn[]> {
    return (await shard.query<{ name: string; type: string }>(storedColumnsOf(relation))).rows;
  }
}
