import type pg from 'pg';
import type { BenchRow } from '../bench-table.js';

type Result = pg.QueryResult<BenchRow>;

/**
 * One local Postgres transaction on one pooled connection, with as few round
 * trips as a careful application would use: BEGIN travels with the first
 * statement, writes are buffered and travel with COMMIT or PREPARE
 * TRANSACTION. Used by `local` (the whole transaction) and by `2pc` (one
 * participant per shard).
 */
export class SqlTransaction {
  private begun = false;
  private readonly writes: string[] = [];
  private released = false;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly beginStatement: string,
  ) {}

  get hasWrites(): boolean {
    return this.writes.length > 0;
  }

  async query(statement: string): Promise<BenchRow[]> {
    if (this.begun) return (await this.client.query<BenchRow>(statement)).rows;
    this.begun = true;
    const results = (await this.client.query<BenchRow>(`${this.beginStatement}; ${statement}`)) as unknown as Result[];
    return results[results.length - 1]!.rows;
  }

  write(statement: string): void {
    this.writes.push(statement);
  }

  /** Buffered writes, then COMMIT: one round trip. */
  async commit(): Promise<void> {
    await this.finish('COMMIT');
  }

  /** Buffered writes, then PREPARE TRANSACTION: phase one of two-phase commit, one round trip. */
  async prepare(gid: string): Promise<void> {
    await this.finish(`PREPARE TRANSACTION '${gid}'`);
  }

  /** Phase two; runs on the same connection, outside any transaction. */
  async commitPrepared(gid: string): Promise<void> {
    await this.client.query(`COMMIT PREPARED '${gid}'`);
  }

  async rollbackPrepared(gid: string): Promise<void> {
    await this.client.query(`ROLLBACK PREPARED '${gid}'`);
  }

  async rollback(): Promise<void> {
    if (this.begun) await this.client.query('ROLLBACK');
    this.begun = false;
  }

  /** Returns the connection to the pool; a connection that failed mid-protocol is discarded. */
  release(broken?: unknown): void {
    if (this.released) return;
    this.released = true;
    this.client.release(broken instanceof Error ? broken : undefined);
  }

  private async finish(end: string): Promise<void> {
    const statements = [...(this.begun ? [] : [this.beginStatement]), ...this.writes, end];
    this.writes.length = 0;
    if (statements.length === 2 && !this.begun && end === 'COMMIT') return; // nothing began, nothing to end
    // Until the end statement succeeds the transaction may be open (or aborted): rollback() must end it.
    this.begun = true;
    await this.client.query(statements.join('; '));
    this.begun = false;
  }
}

/** SQLSTATE of a Postgres error, if it is one. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** Retryable aborts of the SQL baselines, by cause. */
export function sqlAbortCause(error: unknown): string | undefined {
  switch (sqlState(error)) {
    case '40001':
      return 'serialization';
    case '40P01':
      return 'deadlock';
    case '55P03':
      return 'lock-timeout';
    default:
      return undefined;
  }
}
