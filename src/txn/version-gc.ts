import type { Counter } from 'prom-client';
import { InvalidInputError, SchemaError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TimestampSource } from '../oracle/timestamp-source.js';
import { currentSafePoint, deleteDeletedLatest, deleteSuperseded, oldLocks, raiseSafePoint, tryGcLock, uncataloguedLockTables } from '../shard/gc-statements.js';
import type { ShardPool } from '../shard/shard-pool.js';
import type { TableStorage } from '../shard/table-storage.js';
import { composeTimestamp, physicalMs, type Timestamp } from '../timestamp.js';
import type { FoundLock } from './found-lock.js';
import type { GcOptions, GcRun } from './gc-types.js';
import type { LockResolver } from './lock-resolver.js';
import type { TableDirectory } from './table-directory.js';

/**
 * Version GC (TiKV's, simplified). The safe point is the oracle's time minus
 * the lifetime. First every lock that started at or below it, in every
 * table of every shard's catalogue, is resolved (TiKV's resolve-locks phase): lock resolution judges a transaction by its
 * primary's version, which GC may delete once the key is overwritten, so a
 * committed transaction's leftover secondary must be rolled forward before
 * (otherwise it would later be rolled back: half a transaction lost). A
 * transaction that old and still alive (heartbeat) holds the safe point
 * below its start. Then on each shard, in one local transaction: raise the shard's
 * safe point, then delete every version of every table in the shard's
 * catalogue (not only the tables this client knows) that no read
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
    /** The current map's shards (Placement.live, updated in place); each pass collects those present when it starts. */
    private readonly liveShards: readonly ShardPool[],
    private readonly tables: TableDirectory,
    private readonly timestampSource: TimestampSource,
    private readonly resolver: LockResolver,
    private readonly logger: Logger,
    private readonly deletedVersions: Counter,
    options: GcOptions = {},
    /** Run after each pass (the last step of slot moves: dropping the copies the safe point now allows). */
    private readonly afterCollect?: () => Promise<unknown>,
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
      this.running = this.collect().catch((error: unknown) => this.logger.warn({ err: error }, 'version GC failed; next interval retries'));
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
    const pools = [...this.liveShards];
    // Every table stored on each shard (its catalogue), not only this client's: a transaction may span tables it does not know.
    const tables = await Promise.all(pools.map((shard) => this.tables.tablesOn(shard)));
    await this.refuseUncataloguedLocks(pools);
    const safePoint = await this.resolveOldLocks(pools, tables, composeTimestamp(Math.max(0, physicalMs(now) - this.lifetimeMs)));
    const shards = await Promise.all(pools.map((shard, i) => this.collectShard(shard, tables[i]!, safePoint, force)));
    await this.afterCollect?.().catch((error: unknown) => this.logger.warn({ err: error }, 'version GC: finishing slot moves failed; the next pass retries'));
    return { shards };
  }

  /**
   * A locks table the catalogue does not list (storage an older client
   * created after the catalogue's backfill) hides its locks from GC, and
   * one of them may need the very primary version GC would delete: then
   * nothing is collected anywhere until a client that declares the table
   * runs migrate() (which catalogues it).
   */
  private async refuseUncataloguedLocks(pools: readonly ShardPool[]): Promise<void> {
    const found = await Promise.all(pools.map(async (shard) => ({ shard, rows: (await shard.query<{ name: string }>(uncataloguedLockTables())).rows })));
    const hidden = found.filter((f) => f.rows.length > 0);
    if (hidden.length === 0) return;
    const where = hidden.map((f) => `shard ${f.shard.name}: ${f.rows.map((r) => r.name).join(', ')}`).join('; ');
    throw new SchemaError(`version GC: locks tables missing from the shard's table catalogue (${where}); nothing is collected until db.migrate() of a client that declares those tables catalogues them`);
  }

  /**
   * Resolves the locks of every shard and catalogued table that started at
   * or below `safePoint` (rolled forward or back); returns the safe point,
   * lowered below the oldest transaction still alive, and below every lock
   * whose primary's table no shard catalogues with its shard key (nothing
   * that could decide such a lock is deleted: its primary's version was
   * committed after its start). Any failure stops the run before anything
   * is deleted.
   */
  private async resolveOldLocks(pools: readonly ShardPool[], tables: readonly (readonly TableStorage[])[], safePoint: Timestamp): Promise<Timestamp> {
    const found: FoundLock[] = [];
    await Promise.all(
      pools.map(async (shard, i) => {
        for (const storage of tables[i]!) {
          const { rows } = await shard.query<{ __lock_key: string[]; __lock_start: string; __primary_table: string; __primary_key: string[]; __expired: boolean }>(
            oldLocks(storage, safePoint),
          );
          for (const r of rows) {
            found.push({ storage, shard: shard.index, keyTexts: r.__lock_key, startTs: BigInt(r.__lock_start), primaryTable: r.__primary_table, primaryKey: r.__primary_key, expired: r.__expired });
          }
        }
      }),
    );
    if (found.length === 0) return safePoint;
    const resolvable: FoundLock[] = [];
    const unplaceable: FoundLock[] = [];
    const placeable = new Map<string, Promise<boolean>>();
    for (const lock of found) {
      const id = `${lock.shard}\u0000${lock.primaryTable}`;
      if (!placeable.has(id)) placeable.set(id, this.tables.locatePrimary(lock.primaryTable, lock.shard).then(Boolean));
      ((await placeable.get(id)!) ? resolvable : unplaceable).push(lock);
    }
    let point = safePoint;
    const hold = (locks: readonly FoundLock[]): void => {
      for (const lock of locks) if (lock.startTs <= point) point = lock.startTs - 1n;
    };
    if (unplaceable.length > 0) {
      hold(unplaceable);
      const primaryTables = [...new Set(unplaceable.map((l) => l.primaryTable))];
      this.logger.warn({ primaryTables, locks: unplaceable.length, safePoint: point.toString() }, 'version GC: locks name primary tables no shard catalogues with a shard key; the safe point stays below them');
    }
    const { alive } = resolvable.length > 0 ? await this.resolver.resolveLocks(resolvable) : { alive: [] };
    hold(alive);
    this.logger.debug({ resolved: resolvable.length - alive.length, alive: alive.length, unplaceable: unplaceable.length }, 'version GC resolved old locks');
    return point;
  }

  private async collectShard(shard: ShardPool, tables: readonly TableStorage[], safePoint: Timestamp, force: boolean): Promise<GcRun['shards'][number]> {
    return shard.transaction(async (client) => {
      const locked = await shard.query<{ locked: boolean }>(tryGcLock(), { client });
      const current = async (): Promise<GcRun['shards'][number]> => {
        const { rows } = await shard.query<{ safe_point: string }>(currentSafePoint(), { client });
        return { safePoint: BigInt(rows[0]?.safe_point ?? 0), deleted: undefined };
      };
      if (!locked.rows[0]!.locked) return current();
      const raised = await shard.query<{ safe_point: string }>(raiseSafePoint(safePoint, force, Math.floor(this.intervalMs * 0.9)), { client });
      if (raised.rows.length === 0) return current();
      const point = BigInt(raised.rows[0]!.safe_point);
      let deleted = 0;
      for (const storage of tables) {
        deleted += (await shard.query(deleteSuperseded(storage, point), { client })).rowCount ?? 0;
        await shard.query(deleteDeletedLatest(storage, point), { client });
      }
      this.deletedVersions.inc(deleted);
      this.logger.debug({ shard: shard.index, safePoint: point.toString(), deleted }, 'version GC');
      return { safePoint: point, deleted };
    });
  }
}
