import pg from 'pg';
import type { TimestampSource } from '../../src/oracle/timestamp-source.js';
import { composeTimestamp, type Timestamp } from '../../src/timestamp.js';

/**
 * Stand-in oracle for tests until the gRPC oracle is used everywhere: a
 * Postgres sequence, so that timestamps strictly increase across processes
 * (crash tests run clients in child processes). Starts at now << 18.
 */
export class SequenceTimestampSource implements TimestampSource {
  private readonly pool: pg.Pool;

  constructor(url: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 4 });
    this.pool.on('error', () => {});
  }

  static async create(url: string): Promise<SequenceTimestampSource> {
    const source = new SequenceTimestampSource(url);
    await source.pool.query(`create sequence if not exists percolator_test_tso start ${composeTimestamp(Date.now())}`);
    return source;
  }

  async getTimestamp(): Promise<Timestamp> {
    const { rows } = await this.pool.query<{ ts: string }>(`select nextval('percolator_test_tso')::text as ts`);
    return BigInt(rows[0]!.ts);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
