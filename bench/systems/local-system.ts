import type pg from 'pg';
import type { BenchRow, BenchTable } from '../bench-table.js';
import type { CpuProcess } from '../cpu-accounting.js';
import type { AttemptOptions, BenchSystem, BenchTx, ColumnRange, RowUpdate, SystemName } from './bench-system.js';
import { checkpoint, createAndLoad, dropTable, openPool } from './sql-pool.js';
import { selectByIds, selectRange, updateRow } from './sql-text.js';
import { SqlTransaction, sqlAbortCause } from './sql-transaction.js';

/**
 * `local` and `local-serializable`: all rows in one Postgres database, each
 * transaction one native REPEATABLE READ (or SERIALIZABLE) transaction: the
 * single-node reference. Reads are plain snapshot reads (optimistic, like
 * percolator): a concurrent update makes the later writer fail with 40001.
 */
export class LocalSystem implements BenchSystem {
  private readonly pool: pg.Pool;
  private readonly begin: string;

  constructor(
    readonly name: Extract<SystemName, 'local' | 'local-serializable'>,
    url: string,
    clients: number,
    readonly processes: readonly CpuProcess[],
  ) {
    this.pool = openPool(url, clients);
    this.begin = `BEGIN ISOLATION LEVEL ${name === 'local' ? 'REPEATABLE READ' : 'SERIALIZABLE'}`;
  }

  createTable(table: BenchTable, rows: readonly BenchRow[]): Promise<void> {
    return createAndLoad(this.pool, table, rows);
  }

  /** The pools connect on demand: nothing to do. */
  async attach(_table: BenchTable): Promise<void> {}

  dropTable(table: BenchTable): Promise<void> {
    return dropTable(this.pool, table);
  }

  async attempt<T>(body: (tx: BenchTx) => Promise<T>, options: AttemptOptions): Promise<T> {
    const client = await this.pool.connect();
    const txn = new SqlTransaction(client, options.readOnly ? `${this.begin} READ ONLY` : this.begin);
    let broken: unknown;
    try {
      const result = await body(new LocalTx(txn));
      await txn.commit();
      return result;
    } catch (error) {
      await txn.rollback().catch((e: unknown) => (broken = e));
      throw error;
    } finally {
      txn.release(broken);
    }
  }

  abortCause(error: unknown): string | undefined {
    return sqlAbortCause(error);
  }

  checkpoint(): Promise<void> {
    return checkpoint(this.pool);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

class LocalTx implements BenchTx {
  constructor(private readonly txn: SqlTransaction) {}

  get(table: BenchTable, ids: readonly number[]): Promise<BenchRow[]> {
    return this.txn.query(selectByIds(table, ids, false));
  }

  scan(table: BenchTable, range?: ColumnRange): Promise<BenchRow[]> {
    return this.txn.query(selectRange(table, range));
  }

  async update(table: BenchTable, updates: readonly RowUpdate[]): Promise<void> {
    for (const u of updates) this.txn.write(updateRow(table, u));
  }
}
