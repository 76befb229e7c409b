import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { SchemaError } from '../errors.js';
import type { Timestamp } from '../timestamp.js';
import { migrateMetaSchema } from './meta-migrations.js';
import type { LeaderInfo, LeaseGrant, MetaStore, MetaStoreOptions } from './meta-store.js';

/**
 * Where the oracle keeps its lease and its timestamp limit: one row in a
 * Postgres database (schema/oracle). The database's clock judges lease
 * expiry for everybody; every write by a leader is fenced by its epoch.
 */
export class PostgresMetaStore implements MetaStore {
  private constructor(private readonly pool: pg.Pool) {}

  /**
   * Connects and applies the schema, retrying until `startTimeoutMs` (the
   * meta database may still be starting, or the machine busy).
   */
  static async open(url: string, options: MetaStoreOptions): Promise<PostgresMetaStore> {
    const pool = new pg.Pool({
      connectionString: url,
      max: 2,
      // Connecting (SCRAM auth) is slow on a busy machine; a statement that outlives the lease is useless.
      connectionTimeoutMillis: Math.max(5000, options.queryTimeoutMs),
      query_timeout: options.queryTimeoutMs,
      idleTimeoutMillis: 0,
      application_name: 'percolator-oracle',
    });
    // A dropped connection is reported here and replaced on the next query.
    pool.on('error', (error) => options.logger.warn({ err: error }, 'meta database connection lost'));
    const giveUpAt = Date.now() + options.startTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const client = await pool.connect();
        try {
          await migrateMetaSchema(client, options.logger);
        } finally {
          client.release();
        }
        return new PostgresMetaStore(pool);
      } catch (error) {
        if (Date.now() >= giveUpAt) {
          await pool.end().catch(() => {});
          throw error;
        }
        options.logger.warn({ err: error, attempt }, 'meta database not reachable yet; retrying');
        await sleep(Math.min(1000, 100 * attempt));
      }
    }
  }

  /**
   * Takes the lease if it has expired, bumping the epoch so that every
   * write of the previous holder is refused from now on. Exactly one of
   * several concurrent candidates wins (the row lock re-checks the expiry).
   * A candidate may also retake a lease still recorded under its own id
   * (its earlier acquire committed but the answer was lost): it is not
   * serving under that epoch, so nobody is.
   */
  async tryAcquireLease(candidateId: string, address: string, leaseMs: number): Promise<LeaseGrant | undefined> {
    const { rows } = await this.pool.query<{ epoch: string; timestamp_limit: string }>(
      `UPDATE percolator_oracle_lease
          SET epoch = epoch + 1, leader_id = $1, leader_address = $2,
              lease_expires_at = clock_timestamp() + make_interval(secs => $3::float8 / 1000),
              updated_at = clock_timestamp()
        WHERE id = 1 AND (lease_expires_at < clock_timestamp() OR leader_id = $1)
        RETURNING epoch, timestamp_limit`,
      [candidateId, address, leaseMs],
    );
    const row = rows[0];
    return row && { epoch: BigInt(row.epoch), timestampLimit: BigInt(row.timestamp_limit) };
  }

  /**
   * Renews the lease of `epoch` and persists the timestamp limit.
   * 1. Only the current epoch writes: a deposed leader changes nothing.
   * 2. The saved limit never decreases (GREATEST), whatever the caller's clock says.
   * Returns the limit now stored (what may be served below), or undefined
   * when `epoch` is no longer the leader's.
   */
  async renewLease(epoch: bigint, leaseMs: number, timestampLimit: Timestamp): Promise<Timestamp | undefined> {
    const { rows } = await this.pool.query<{ timestamp_limit: string }>(
      `UPDATE percolator_oracle_lease
          SET lease_expires_at = clock_timestamp() + make_interval(secs => $2::float8 / 1000),
              timestamp_limit = GREATEST(timestamp_limit, $3::bigint),
              updated_at = clock_timestamp()
        WHERE id = 1 AND epoch = $1
        RETURNING timestamp_limit`,
      [epoch.toString(), leaseMs, timestampLimit.toString()],
    );
    const row = rows[0];
    return row && BigInt(row.timestamp_limit);
  }

  /** Gives the lease up at once (graceful shutdown) so that a standby need not wait for it to expire. */
  async releaseLease(epoch: bigint): Promise<void> {
    await this.pool.query(
      `UPDATE percolator_oracle_lease SET lease_expires_at = '-infinity', updated_at = clock_timestamp()
        WHERE id = 1 AND epoch = $1`,
      [epoch.toString()],
    );
  }

  async readLeader(): Promise<LeaderInfo> {
    const { rows } = await this.pool.query<{ epoch: string; leader_address: string | null; expired: boolean }>(
      `SELECT epoch, leader_address, lease_expires_at < clock_timestamp() AS expired
         FROM percolator_oracle_lease WHERE id = 1`,
    );
    const row = rows[0];
    if (!row) throw new SchemaError('meta table percolator_oracle_lease has no row; migrations did not run');
    return { epoch: BigInt(row.epoch), address: row.leader_address, expired: row.expired };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
