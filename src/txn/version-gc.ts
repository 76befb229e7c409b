import type { Counter } from 'prom-client';
import { InvalidInputError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TimestampSource } from '../oracle/timestamp-source.js';
import { ident } from '../shard/sql-names.js';
import type { ShardPool } from '../shard/shard-pool.js';
import type { TableStorage } from '../shard/table-storage.js';
import { composeTimestamp, physicalMs, type Timestamp } from '../timestamp.js';
import type { FoundLock, LockResolver } from './lock-resolver.js';
import { lockInfoSql } from './snapshot-read.js';

export interface GcOptions {
  /**
   * How long versions stay readable after they are overwritten (ms): the
   * longest a transaction may run and still read. Older snapshots fail with
   * SnapshotTooOldError. Default 600000 (10 minutes, TiDB's default).
   */
  lifetimeMs?: number;
  /** How often each shard is collected, by whichever client gets there first (ms). Default 60000. */
  intervalMs?: number;
}

export interface GcRun {
  /** Per shard: the safe point it has now, and the versions this run deleted (undefined: collected recently by someone else). */
  shards: { safePoint: Timestamp; deleted: number | undefined }[];
}

// Arbitrary constant: the advisory lock key of version GC on a shard.
const GC_LOCK_KEY = 7_366_512_002;

/**
 * Version GC (TiKV's, simplified). The safe point is the oracle's time minus
 * the lifetime. First every lock that started at or below it is resolved
 * (TiKV's resolve-locks phase): lock resolution judges a transaction by its
 * primary's version, which GC may delete once the key is overwritten, so a
 * committed transaction's leftover secondary must be rolled forward before
 * (otherwise it would later be rolled back: half a transaction lost). A
 * transaction that old and still alive (heartbeat) holds the safe point
 * below its start. Then on each shard, in one local transaction: raise the shard's
 * safe point, then delete every version of every known table that no read
 * at or above it can see, which is each key's versions older than its
 * newest put/del at or below the safe point. Rollback markers stay (a late
 * prewrite of a rolled-back transaction must still fail), and so does that
 * newest version (readers at the safe point need it, and a prewrite's
 * conflict check for a transaction older than the safe point still finds
 * any write it missed). Reads check the safe point in their own snapshot
 * (gcCheckSql), so none ever sees a history with holes.
 *
 * Every client runs it on a timer; `updated_at` makes one of them do the
 * work per shard and interval, and an advisory lock keeps two from
 * collecting a shard at once.
 */
export class VersionGc {
  private readonly lifetimeMs: number;
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly shards: readonly ShardPool[],
    private readonly tables: () => Iterable<TableStorage>,
    private readonly timestampSource: TimestampSource,
    private readonly resolver: LockResolver,
    private readonly logger: Logger,
    private readonly deletedVersions: Counter,
    options: GcOptions = {},
  ) {
    this.lifetimeMs = options.lifetimeMs ?? 600_000;
    this.intervalMs = options.intervalMs ?? 60_000;
    if (!Number.isFinite(this.lifetimeMs) || this.lifetimeMs < 0) throw new InvalidInputError(`gc.lifetimeMs must be a non-negative number, got ${options.lifetimeMs}`);
    if (!Number.isFinite(this.intervalMs) || this.intervalMs <= 0) throw new InvalidInputError(`gc.intervalMs must be a positive number, got ${options.intervalMs}`);
  }

  /** Collects every `intervalMs` in the background (the timer does not keep the process alive). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.collect().catch((error: unknown) => this.logger.warn({ err: String(error) }, 'version GC failed; next interval retries'));
      void this.running.finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass over every shard; `force` ignores the interval (someone else's recent run). */
  async collect(force = false): Promise<GcRun> {
    const now = await this.timestampSource.getTimestamp();
    const tables = [...this.tables()];
    const safePoint = await this.resolveOldLocks(tables, composeTimestamp(Math.max(0, physicalMs(now) - this.lifetimeMs)));
    const shards = await Promise.all(this.shards.map((shard) => this.collectShard(shard, tables, safePoint, force)));
    return { shards };
  }

  /**
   * Resolves the locks of every shard and table that started at or below
   * `safePoint` (rolled forward or back); returns the safe point, lowered
   * below the oldest transaction still alive. Any failure stops the run
   * before anything is deleted.
   */
  private async resolveOldLocks(tables: readonly TableStorage[], safePoint: Timestamp): Promise<Timestamp> {
    const found: FoundLock[] = [];
    await Promise.all(
      this.shards.map(async (shard) => {
        for (const storage of tables) {
          const { rows } = await shard.query<{ __lock_key: string[]; __lock_start: string; __primary_table: string; __primary_key: string[]; __expired: boolean }>({
            text: storage.statementText('gcOldLocks', () => `select ${lockInfoSql(storage, 'l')} from ${storage.locks} l where l.start_ts <= $1::bigint`),
            values: [safePoint.toString()],
          });
          for (const r of rows) {
            found.push({ storage, shard: shard.index, keyTexts: r.__lock_key, startTs: BigInt(r.__lock_start), primaryTable: r.__primary_table, primaryKey: r.__primary_key, expired: r.__expired });
          }
        }
      }),
    );
    if (found.length === 0) return safePoint;
    const { alive } = await this.resolver.resolveLocks(found);
    let point = safePoint;
    for (const lock of alive) if (lock.startTs <= point) point = lock.startTs - 1n;
    this.logger.debug({ resolved: found.length - alive.length, alive: alive.length }, 'version GC resolved old locks');
    return point;
  }

  private async collectShard(shard: ShardPool, tables: readonly TableStorage[], safePoint: Timestamp, force: boolean): Promise<GcRun['shards'][number]> {
    return shard.transaction(async (client) => {
      const locked = await shard.query<{ locked: boolean }>({ text: 'select pg_try_advisory_xact_lock($1) as locked', values: [GC_LOCK_KEY] }, { client });
      const current = async (): Promise<GcRun['shards'][number]> => {
        const { rows } = await shard.query<{ safe_point: string }>({ text: 'select safe_point::text as safe_point from percolator_gc', values: [] }, { client });
        return { safePoint: BigInt(rows[0]?.safe_point ?? 0), deleted: undefined };
      };
      if (!locked.rows[0]!.locked) return current();
      const raised = await shard.query<{ safe_point: string }>(
        {
          text: `update percolator_gc set safe_point = greatest(safe_point, $1::bigint), updated_at = clock_timestamp()
where $2::boolean or updated_at <= clock_timestamp() - $3::bigint * interval '1 millisecond' returning safe_point::text as safe_point`,
          values: [safePoint.toString(), force, Math.floor(this.intervalMs * 0.9)],
        },
        { client },
      );
      if (raised.rows.length === 0) return current();
      const point = BigInt(raised.rows[0]!.safe_point);
      let deleted = 0;
      for (const storage of tables) {
        deleted += (await shard.query({ text: deleteSupersededSql(storage), values: [point.toString()] }, { client })).rowCount ?? 0;
        // A key deleted at or below the safe point is absent for every read: its latest row can go.
        await shard.query({ text: `delete from ${storage.latest} where op = 'del' and commit_ts <= $1::bigint`, values: [point.toString()] }, { client });
      }
      this.deletedVersions.inc(deleted);
      this.logger.debug({ shard: shard.index, safePoint: point.toString(), deleted }, 'version GC');
      return { safePoint: point, deleted };
    });
  }
}

/** Deletes the versions of `storage`'s table hidden from every read at or above $1 (rollback markers excepted). */
function deleteSupersededSql(storage: TableStorage): string {
  const pk = storage.pk.map((c) => ident(c.name));
  return storage.statementText(
    'gcDeleteSuperseded',
    () => `with keep as (
  select distinct on (${pk.join(', ')}) ${pk.join(', ')}, commit_ts from ${storage.versions}
  where commit_ts <= $1::bigint and op in ('put', 'del') order by ${pk.join(', ')}, commit_ts desc)
delete from ${storage.versions} v using keep k
where ${pk.map((c) => `v.${c} = k.${c}`).join(' and ')} and v.commit_ts < k.commit_ts and v.op <> 'rollback'`,
  );
}
