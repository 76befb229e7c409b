import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { OracleRequestRejectedError, SchemaError } from '../errors.js';
import type { Timestamp } from '../timestamp.js';
import { migrateMetaSchema } from './meta-migrations.js';
import type { LeaderInfo, LeaseGrant, MetaStore, MetaStoreOptions } from './meta-store.js';
import type { PlacementRead, PlacementWrite, StoredPlacement } from './placement-store.js';

/**
 * Where the oracle keeps its lease and its timestamp limit: one row in a
 * Postgres database (schema/oracle). The database's clock judges lease
 * expiry for everybody; every write by a leader is fenced by its epoch.
 * Placement maps live beside it (placement-store.ts).
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

  async readPlacement(clusterId: string | undefined): Promise<PlacementRead> {
    const { rows } = await this.pool.query<PlacementRow & { generation: string }>(
      `SELECT m.*, g.generation FROM
         (SELECT coalesce(sum(version), 0)::text AS generation FROM percolator_placement_maps) g
         LEFT JOIN percolator_placement_maps m ON ($1::uuid IS NULL OR m.cluster_id = $1::uuid)`,
      [clusterId ?? null],
    );
    const generation = BigInt(rows[0]?.generation ?? '0');
    const found = rows.filter((row) => row.cluster_id !== null);
    if (clusterId === undefined && found.length > 1) {
      throw new OracleRequestRejectedError(`this oracle keeps the placement of ${found.length} clusters (${found.map((r) => r.cluster_id).join(', ')}): name one`);
    }
    return { placement: found[0] && placementOf(found[0]), generation };
  }

  async writePlacement(epoch: bigint, placement: StoredPlacement, expectedVersion: bigint): Promise<PlacementWrite | undefined> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // The lease row, shared: an acquisition (which bumps the epoch) waits for this write, and a deposed leader writes nothing.
      const lease = await client.query('SELECT 1 FROM percolator_oracle_lease WHERE id = 1 AND epoch = $1 FOR SHARE', [epoch.toString()]);
      if (lease.rowCount === 0) {
        await client.query('ROLLBACK');
        return undefined;
      }
      const values = [placement.clusterId, placement.version.toString(), JSON.stringify(placement.shards), Buffer.from(placement.slots), expectedVersion.toString()];
      const written =
        expectedVersion === 0n
          ? await client.query(
              `INSERT INTO percolator_placement_maps (cluster_id, version, shards, slots) SELECT $1, $2, $3, $4 WHERE $5::bigint = 0
                 ON CONFLICT (cluster_id) DO NOTHING`,
              values,
            )
          : await client.query(
              `UPDATE percolator_placement_maps SET version = $2, shards = $3, slots = $4, updated_at = clock_timestamp()
                WHERE cluster_id = $1 AND version = $5`,
              values,
            );
      const { rows } = await client.query<PlacementRow & { generation: string }>(
        `SELECT m.*, (SELECT coalesce(sum(version), 0)::text FROM percolator_placement_maps) AS generation
           FROM percolator_placement_maps m WHERE cluster_id = $1`,
        [placement.clusterId],
      );
      await client.query('COMMIT');
      return { applied: written.rowCount === 1, placement: rows[0] && placementOf(rows[0]), generation: BigInt(rows[0]?.generation ?? '0') };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async placementGeneration(): Promise<bigint> {
    const { rows } = await this.pool.query<{ generation: string }>('SELECT coalesce(sum(version), 0)::text AS generation FROM percolator_placement_maps');
    return BigInt(rows[0]!.generation);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

interface PlacementRow {
  cluster_id: string;
  version: string;
  shards: { id: number; url: string }[];
  slots: Buffer;
}

function placementOf(row: PlacementRow): StoredPlacement {
  return { clusterId: row.cluster_id, version: BigInt(row.version), shards: row.shards, slots: new Uint8Array(row.slots) };
}
