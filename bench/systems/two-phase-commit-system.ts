import type pg from 'pg';
import type { BenchRow, BenchTable } from '../bench-table.js';
import type { CpuProcess } from '../cpu-accounting.js';
import type { ShardOf } from '../key-picker.js';
import type { AttemptOptions, BenchSystem, BenchTx, ColumnRange, RowUpdate } from './bench-system.js';
import { checkpoint, createAndLoad, dropTable, openPool } from './sql-pool.js';
import { selectByIds, selectRange, updateRow } from './sql-text.js';
import { SqlTransaction, sqlAbortCause } from './sql-transaction.js';

export interface TwoPhaseCommitHooks {
  /**
   * Test hook: when set, COMMIT PREPARED runs shard by shard in shard order
   * and this is awaited after each shard but the last, so a test can read in
   * the window where one shard shows the transaction and another does not.
   */
  afterCommitPrepared?(shard: number, gid: string): Promise<void>;
}

/**
 * `2pc`: what most sharding layers do. Rows live on the same shards as
 * percolator's, in plain tables. Each shard a transaction touches is one
 * READ COMMITTED participant (rows it will write back are read FOR UPDATE);
 * at commit, a transaction that wrote on one shard commits there in one
 * phase, otherwise every writing shard runs PREPARE TRANSACTION and then
 * COMMIT PREPARED, in parallel. Atomic, but no global snapshot: a reader can
 * see one shard after COMMIT PREPARED and another before it.
 */
export class TwoPhaseCommitSystem implements BenchSystem {
  readonly name = '2pc' as const;
  private readonly pools: pg.Pool[];
  private readonly gidPrefix = `bench_${process.pid}_${Date.now().toString(36)}_`;
  private nextGid = 0;
  /** Transactions decided committed whose COMMIT PREPARED failed on some shard: finished at close. */
  private readonly inDoubt = new Set<string>();

  constructor(
    urls: readonly string[],
    clients: number,
    private readonly shardOf: ShardOf,
    readonly processes: readonly CpuProcess[],
    private readonly hooks: TwoPhaseCommitHooks = {},
  ) {
    this.pools = urls.map((url) => openPool(url, clients));
  }

  async createTable(table: BenchTable, rows: readonly BenchRow[]): Promise<void> {
    const perShard = this.pools.map((): BenchRow[] => []);
    for (const row of rows) perShard[this.shardOf(row.id)]!.push(row);
    await Promise.all(this.pools.map((pool, shard) => createAndLoad(pool, table, perShard[shard]!)));
  }

  /** The pools connect on demand: nothing to do. */
  async attach(_table: BenchTable): Promise<void> {}

  async dropTable(table: BenchTable): Promise<void> {
    await Promise.all(this.pools.map((pool) => dropTable(pool, table)));
  }

  async attempt<T>(body: (tx: BenchTx) => Promise<T>, options: AttemptOptions): Promise<T> {
    const txn = new TwoPhaseCommitTx(this.pools, this.shardOf, options.readOnly);
    try {
      const result = await body(txn);
      await this.commit(txn);
      return result;
    } finally {
      await txn.release();
    }
  }

  private async commit(txn: TwoPhaseCommitTx): Promise<void> {
    const participants = [...txn.participants.entries()].sort(([a], [b]) => a - b);
    const writers = participants.filter(([, p]) => p.hasWrites);
    if (writers.length <= 1) {
      // One writing shard: plain one-phase commit there (every sharding layer does this).
      await settleAll(participants.map(([, p]) => p.commit()), () => txn.rollbackAll());
      return;
    }
    const gid = `${this.gidPrefix}${this.nextGid++}`;
    const prepared: SqlTransaction[] = [];
    await settleAll(
      participants.map(async ([, p]) => {
        if (!p.hasWrites) return p.commit();
        await p.prepare(gid);
        prepared.push(p);
      }),
      // Phase one failed somewhere: the decision is abort; undo what did prepare.
      async () => {
        await Promise.all(prepared.map((p) => p.rollbackPrepared(gid).catch(() => {})));
        await txn.rollbackAll();
      },
    );
    // The decision is commit; from here on a failure leaves the transaction in doubt, not aborted.
    try {
      if (this.hooks.afterCommitPrepared) {
        for (const [i, [shard, p]] of writers.entries()) {
          await p.commitPrepared(gid);
          if (i < writers.length - 1) await this.hooks.afterCommitPrepared(shard, gid);
        }
      } else {
        await Promise.all(writers.map(([, p]) => p.commitPrepared(gid)));
      }
    } catch (error) {
      this.inDoubt.add(gid);
      throw new Error(`2pc: COMMIT PREPARED '${gid}' failed after the commit decision`, { cause: error });
    }
  }

  abortCause(error: unknown): string | undefined {
    return sqlAbortCause(error);
  }

  checkpoint(): Promise<void> {
    return Promise.all(this.pools.map(checkpoint)).then(() => {});
  }

  /** Finishes prepared transactions this system left behind: commit the decided ones, roll back the rest. */
  async close(): Promise<void> {
    await Promise.all(
      this.pools.map(async (pool) => {
        const { rows } = await pool
          .query<{ gid: string }>('SELECT gid FROM pg_prepared_xacts WHERE gid LIKE $1 AND database = current_database()', [`${this.gidPrefix}%`])
          .catch(() => ({ rows: [] as { gid: string }[] }));
        for (const { gid } of rows) {
          await pool.query(`${this.inDoubt.has(gid) ? 'COMMIT' : 'ROLLBACK'} PREPARED '${gid}'`).catch(() => {});
        }
      }),
    );
    await Promise.all(this.pools.map((pool) => pool.end()));
  }
}

/** Waits for every promise; if any rejected, runs `onFailure` and rethrows the first rejection. */
async function settleAll(work: Promise<unknown>[], onFailure: () => Promise<void>): Promise<void> {
  const settled = await Promise.allSettled(work);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (!failed) return;
  await onFailure();
  throw failed.reason;
}

class TwoPhaseCommitTx implements BenchTx {
  readonly participants = new Map<number, SqlTransaction>();
  private readonly connecting = new Map<number, Promise<SqlTransaction>>();
  private broken: unknown;

  constructor(
    private readonly pools: readonly pg.Pool[],
    private readonly shardOf: ShardOf,
    private readonly readOnly: boolean,
  ) {}

  private participant(shard: number): Promise<SqlTransaction> {
    let p = this.connecting.get(shard);
    if (!p) {
      p = this.pools[shard]!.connect().then((client) => {
        const txn = new SqlTransaction(client, `BEGIN ISOLATION LEVEL READ COMMITTED${this.readOnly ? ' READ ONLY' : ''}`);
        this.participants.set(shard, txn);
        return txn;
      });
      this.connecting.set(shard, p);
    }
    return p;
  }

  async get(table: BenchTable, ids: readonly number[], options?: { forUpdate?: boolean }): Promise<BenchRow[]> {
    const byShard = groupBy(ids, this.shardOf);
    const parts = await Promise.all(
      [...byShard].map(async ([shard, shardIds]) => (await this.participant(shard)).query(selectByIds(table, shardIds, options?.forUpdate ?? false))),
    );
    return parts.flat();
  }

  async scan(table: BenchTable, range?: ColumnRange): Promise<BenchRow[]> {
    const parts = await Promise.all(this.pools.map(async (_, shard) => (await this.participant(shard)).query(selectRange(table, range))));
    return parts.flat();
  }

  async update(table: BenchTable, updates: readonly RowUpdate[]): Promise<void> {
    for (const u of updates) (await this.participant(this.shardOf(u.id))).write(updateRow(table, u));
  }

  async rollbackAll(): Promise<void> {
    await Promise.all(
      [...this.participants.values()].map((p) => p.rollback().catch((e: unknown) => (this.broken = e))),
    );
  }

  /** Ends whatever is still open (a failed body) and returns the connections, also those still connecting. */
  async release(): Promise<void> {
    await Promise.allSettled(this.connecting.values());
    await Promise.all(
      [...this.participants.values()].map(async (p) => {
        try {
          await p.rollback();
          p.release(this.broken);
        } catch (error) {
          p.release(error);
        }
      }),
    );
  }
}

function groupBy(ids: readonly number[], shardOf: ShardOf): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const id of ids) {
    const shard = shardOf(id);
    const list = out.get(shard);
    if (list) list.push(id);
    else out.set(shard, [id]);
  }
  return out;
}
