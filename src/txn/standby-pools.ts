import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidInputError, ShardUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import { parseShardAddress } from '../shard/shard-address.js';
import type { ShardPool } from '../shard/shard-pool.js';
import { replayPassed, walPosition, type ReplayState } from '../shard/standby-statements.js';

/** How often a standby's replay position is looked at again while a read waits for it. */
const POLL_MS = 10;

/**
 * Reads served by a shard's standbys (`db.asOf(ts, { standby: true })`).
 * A standby may lag behind its primary, so a read there is only a snapshot
 * at ts once its replay has passed every commit that a read at ts must
 * see. Those are all below the primary's WAL position taken after ts was
 * issued: a transaction whose commit_ts < ts committed its prewrite locally
 * before asking the oracle for commit_ts, so before ts existed. Each read
 * therefore takes the primary's position first (after ts: the caller has
 * checked ts against the oracle), then runs on a standby whose replay has
 * passed it. Locks met there are resolved on the primaries (the resolver's
 * pools), and the read that follows takes a new position, so it sees the
 * resolution.
 */
export class StandbyPools {
  /** One pool per host URL, opened on first use. */
  private readonly pools = new Map<string, ShardPool>();

  constructor(
    private readonly open: (index: number, hostUrl: string) => ShardPool,
    private readonly logger: Logger,
  ) {}

  /** A pool on a standby of `primary`'s shard that has replayed everything committed on the primary so far; waits up to `waitMs` for one. */
  async caughtUp(primary: ShardPool, waitMs: number): Promise<ShardPool> {
    const { hostUrls } = parseShardAddress(primary.url);
    if (hostUrls.length < 2) {
      throw new InvalidInputError(`a read from standbys was asked for, but shard ${primary.name} names one host: give a shard with standbys as a multi-host URL (primary and standbys)`);
    }
    const { rows } = await primary.query<{ lsn: string }>(walPosition);
    const lsn = rows[0]!.lsn;
    const deadline = Date.now() + waitMs;
    let last: unknown;
    for (;;) {
      for (const hostUrl of hostUrls) {
        const pool = this.poolOf(primary.index, hostUrl);
        try {
          const { rows: state } = await pool.query<ReplayState>(replayPassed(lsn));
          if (state[0]!.standby && state[0]!.passed) return pool;
        } catch (error) {
          last = error; // a host down or unreachable: another may serve
        }
      }
      if (Date.now() >= deadline) {
        throw new ShardUnavailableError(`${primary.name} (no standby replayed up to the primary's WAL position ${lsn} within ${waitMs} ms)`, { cause: last });
      }
      await sleep(POLL_MS);
    }
  }

  private poolOf(index: number, hostUrl: string): ShardPool {
    let pool = this.pools.get(hostUrl);
    if (!pool) {
      this.logger.debug({ shard: index }, 'opening a pool on a host of a shard for standby reads');
      this.pools.set(hostUrl, (pool = this.open(index, hostUrl)));
    }
    return pool;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }
}
