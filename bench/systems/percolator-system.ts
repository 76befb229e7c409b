import { between, eq, inArray } from 'drizzle-orm';
import pg from 'pg';
import { PercolatorError, WriteConflictError } from '../../src/errors.js';
import type { PgTable } from 'drizzle-orm/pg-core';
import { percolator, type Database } from '../../src/index.js';
import type { Logger } from '../../src/logger.js';
import { connectToShard, describeTable } from '../../src/internal.js';
import type { BenchRow, BenchTable } from '../bench-table.js';
import type { CpuProcess } from '../cpu-accounting.js';
import type { AttemptOptions, BenchSystem, BenchTx, ColumnRange, RowUpdate, SystemName } from './bench-system.js';

const LOAD_BATCH = 2000;

type PercolatorDb = Database<Record<string, PgTable>>;
type PercolatorTx = Parameters<Parameters<PercolatorDb['transaction']>[0]>[0];

export interface PercolatorSystemOptions {
  readonly name: Extract<SystemName, 'percolator' | 'percolator-serializable' | 'percolator-locking'>;
  readonly oracle: string;
  readonly shardUrls: readonly string[];
  readonly clients: number;
  readonly processes: readonly CpuProcess[];
  readonly logger: Logger;
  /** A server --rebalance-at adds as a shard during the run: its storage is dropped with the others'. */
  readonly spareShardUrl?: string | undefined;
}

/**
 * `percolator` and `percolator-serializable`: this layer, driven only
 * through its public Drizzle-style API, with its own retries turned off so
 * that the benchmark counts every abort by cause (the same retry policy for
 * every system). `percolator-locking`: snapshot isolation, and the reads a
 * workload marks as read-for-write (2pc's `SELECT ... FOR UPDATE`) are
 * `.for('update')`: a hot row's writers queue on its lock instead of
 * conflicting at prewrite.
 */
export class PercolatorSystem implements BenchSystem {
  readonly name: PercolatorSystemOptions['name'];
  readonly processes: readonly CpuProcess[];
  private db: PercolatorDb | undefined;
  private readonly isolation: 'snapshot' | 'serializable';
  private readonly lockingReads: boolean;

  constructor(private readonly options: PercolatorSystemOptions) {
    this.name = options.name;
    this.processes = options.processes;
    this.isolation = options.name === 'percolator-serializable' ? 'serializable' : 'snapshot';
    this.lockingReads = options.name === 'percolator-locking';
  }

  async createTable(table: BenchTable, rows: readonly BenchRow[]): Promise<void> {
    await this.dropStorage(table);
    await this.attach(table);
    for (let i = 0; i < rows.length; i += LOAD_BATCH) {
      const chunk = rows.slice(i, i + LOAD_BATCH);
      await this.database.transaction(async (tx) => {
        await tx.insert(table.drizzle).values(chunk);
      });
    }
  }

  async attach(table: BenchTable): Promise<void> {
    this.db = await percolator({
      oracle: [this.options.oracle],
      shards: [...this.options.shardUrls],
      schema: { [table.name]: table.drizzle } as Record<string, PgTable>,
      logger: this.options.logger,
      pool: { max: this.options.clients },
      maxRetries: 0,
    });
    await this.db.migrate();
  }

  async dropTable(table: BenchTable): Promise<void> {
    await this.db?.close();
    this.db = undefined;
    await this.dropStorage(table);
  }

  /** Read-only transactions need no hint: percolator commits them without a write phase. */
  attempt<T>(body: (tx: BenchTx) => Promise<T>, _options: AttemptOptions): Promise<T> {
    return this.database.transaction((tx) => body(new PercolatorBenchTx(tx, this.lockingReads)), { isolation: this.isolation, maxRetries: 0 });
  }

  abortCause(error: unknown): string | undefined {
    if (error instanceof WriteConflictError) return `write-conflict:${error.reason}`;
    if (error instanceof PercolatorError && error.retryable) return error.code.toLowerCase().replaceAll('_', '-');
    return undefined;
  }

  async addShardAndRebalance(url: string): Promise<{ slotsMoved: number; rowsCopied: number }> {
    let rowsCopied = 0;
    const added = await this.database.addShard(url, { rebalance: { onProgress: (p) => (rowsCopied = p.rowsCopied) } });
    return { slotsMoved: added.rebalance?.slotsMoved ?? 0, rowsCopied };
  }

  async rowsPerShard(): Promise<number[]> {
    return (await this.database.shardStatus({ countRows: true })).shards.map((s) => s.rows);
  }

  async checkpoint(): Promise<void> {
    await Promise.all(this.options.shardUrls.map((url) => withClient(url, (c) => c.query('CHECKPOINT')).catch(() => {})));
  }

  async close(): Promise<void> {
    await this.db?.close();
    this.db = undefined;
  }

  private get database(): PercolatorDb {
    if (!this.db) throw new Error('percolator system used before createTable');
    return this.db;
  }

  /** Benchmark cleanup only: removes this run's MVCC storage tables on every shard. */
  private async dropStorage(table: BenchTable): Promise<void> {
    const meta = describeTable(table.drizzle);
    const urls = [...this.options.shardUrls, ...(this.options.spareShardUrl ? [this.options.spareShardUrl] : [])];
    await Promise.all(
      urls.map((url) =>
        withClient(url, async (c) => {
          for (const stored of [meta, ...meta.indexes.map((index) => index.storage)]) {
            await c.query(`DROP TABLE IF EXISTS "${stored.versionsTable}", "${stored.locksTable}", "${stored.latestTable}" CASCADE`);
            // Its catalogue row too: a shard added later (--rebalance-at) gets the storage of every catalogued table.
            await c.query(`DO $$ BEGIN IF to_regclass('percolator_tables') IS NOT NULL THEN DELETE FROM percolator_tables WHERE name = '${stored.name}'; END IF; END $$`);
          }
          // A sweep over shard counts reuses the servers with another list: forget the identity the last run recorded.
          await c.query(`DO $$ BEGIN IF to_regclass('percolator_shard_identity') IS NOT NULL THEN DELETE FROM percolator_shard_identity; DELETE FROM percolator_placement; END IF; END $$`);
          // And the slots it owned and the moves it received (slots move with --rebalance-at).
          await c.query(`DO $$ BEGIN IF to_regclass('percolator_owned_slots') IS NOT NULL THEN DELETE FROM percolator_owned_slots; END IF; END $$`);
          await c.query(`DO $$ BEGIN IF to_regclass('percolator_slot_moves') IS NOT NULL THEN DELETE FROM percolator_slot_moves; END IF; END $$`);
          await c.query(`DO $$ BEGIN IF to_regclass('percolator_foreign_slots') IS NOT NULL THEN DELETE FROM percolator_foreign_slots; END IF; END $$`);
        }),
      ),
    );
  }
}

class PercolatorBenchTx implements BenchTx {
  constructor(
    private readonly tx: PercolatorTx,
    private readonly lockingReads: boolean,
  ) {}

  async get(table: BenchTable, ids: readonly number[], options?: { forUpdate?: boolean }): Promise<BenchRow[]> {
    const id = table.column('id');
    const query = this.tx.select().from(table.drizzle).where(ids.length === 1 ? eq(id, ids[0]) : inArray(id, [...ids]));
    return (await (this.lockingReads && options?.forUpdate ? query.for('update') : query)) as BenchRow[];
  }

  async scan(table: BenchTable, range?: ColumnRange): Promise<BenchRow[]> {
    const query = this.tx.select().from(table.drizzle);
    return (await (range ? query.where(between(table.column(range.column), range.from, range.to)) : query)) as BenchRow[];
  }

  async update(table: BenchTable, updates: readonly RowUpdate[]): Promise<void> {
    const id = table.column('id');
    await Promise.all(updates.map((u) => this.tx.update(table.drizzle).set(u.set).where(eq(id, u.id))));
  }
}

/** A connection to the shard's primary (a multi-host URL names its standbys too). */
async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectToShard(url);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}
