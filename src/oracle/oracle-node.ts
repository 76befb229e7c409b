import { randomUUID } from 'node:crypto';
import { OracleNotLeaderError, OracleUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import { physicalMs, type Timestamp } from '../timestamp.js';
import { monotonicMs, type WallClock } from './clock.js';
import type { MetaStore } from './meta-store.js';
import type { OracleMetrics } from './oracle-metrics.js';
import type { PlacementRead, PlacementWrite, StoredPlacement } from './placement-store.js';
import { TimestampAllocator } from './tso-allocator.js';

export type OracleRole = 'follower' | 'acquiring' | 'leader';

export interface OracleNodeOptions {
  store: MetaStore;
  clock: WallClock;
  leaseMs: number;
  windowMs: number;
  logger: Logger;
  metrics: OracleMetrics;
  onRoleChange?(role: OracleRole, info: { epoch: bigint; leaderAddress: string | null }): void;
}

/**
 * One oracle process's part in leader election and serving. Every process
 * campaigns; the one holding the lease row serves. Lease expiry is judged
 * by the meta database's clock for acquisition and by this process's own
 * monotonic clock for serving (see `isServing`).
 */
export class OracleNode {
  readonly id = randomUUID();
  private role: OracleRole = 'follower';
  private epoch = 0n;
  private leaseValidUntil = 0;
  private leaderHint: { address: string | null; epoch: bigint } = { address: null, epoch: 0n };
  private readonly allocator: TimestampAllocator;
  private persisting: Promise<void> | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly renewIntervalMs: number;
  private readonly campaignIntervalMs: number;
  /** Renewal round trips and clock-rate drift eat into the lease; serving stops this much early. */
  private readonly leaseMarginMs: number;
  /** Where clients reach this process; stored in the lease row for redirects. */
  private advertiseAddress = '';
  /** The placement generation as of this term's start and its own writes (carried by every range served). */
  private generation = 0n;

  constructor(private readonly options: OracleNodeOptions) {
    this.allocator = new TimestampAllocator(options.clock);
    this.renewIntervalMs = Math.max(20, Math.min(options.leaseMs, options.windowMs) / 4);
    this.campaignIntervalMs = Math.max(20, options.leaseMs / 6);
    this.leaseMarginMs = Math.max(50, options.leaseMs * 0.05);
  }

  get currentRole(): OracleRole {
    return this.role;
  }

  /** Fencing epoch of the current (or last) term: stamped on every range served. */
  get currentEpoch(): bigint {
    return this.epoch;
  }

  get placementGeneration(): bigint {
    return this.generation;
  }

  /** Any process answers reads of placement maps (from the meta store). */
  readPlacement(clusterId: string | undefined): Promise<PlacementRead> {
    return this.options.store.readPlacement(clusterId);
  }

  /**
   * Only the serving leader writes maps, fenced by its epoch. Ranges served
   * after this returns carry the new generation, so a transaction whose
   * start timestamp follows a switch reads the new map before placing anything.
   */
  async updatePlacement(placement: StoredPlacement, expectedVersion: bigint): Promise<PlacementWrite> {
    if (!this.isServing()) throw this.notLeader();
    const result = await this.options.store.writePlacement(this.epoch, placement, expectedVersion);
    if (!result) throw new OracleNotLeaderError(undefined, 'the lease was lost while writing a placement map');
    if (result.generation > this.generation) this.generation = result.generation;
    return result;
  }

  /** The leader as last seen (this process when it leads). */
  get leader(): { address: string | null; epoch: bigint; isSelf: boolean } {
    return { ...this.leaderHint, isSelf: this.role === 'leader' };
  }

  /** Starts campaigning; `advertiseAddress` is known only once the server is bound. */
  start(advertiseAddress: string): void {
    this.advertiseAddress = advertiseAddress;
    this.loop ??= this.run();
  }

  /** Stops serving at once, then gives the lease up so that a standby takes over without waiting. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const heldEpoch = this.role === 'follower' ? undefined : this.epoch;
    this.leaderHint = { address: null, epoch: this.epoch };
    this.setRole('follower');
    this.wake?.();
    await this.loop;
    await this.persisting?.catch(() => {});
    if (heldEpoch !== undefined) {
      await this.options.store.releaseLease(heldEpoch).catch((error: unknown) => {
        this.options.logger.warn({ err: error }, 'could not release the lease; standbys wait for it to expire');
      });
    }
  }

  /**
   * True only while this process holds the lease by its own monotonic clock.
   * 1. `leaseValidUntil` is set from the monotonic time *before* the acquiring
   *    or renewing statement was sent, minus a margin, so it ends before the
   *    meta database's expiry, which is what a standby waits for. A paused
   *    (SIGSTOP) leader that resumes after a takeover finds its lease over
   *    and serves nothing until it acquires the lease again.
   * 2. Only role 'leader' serves: a newly elected leader first persists a
   *    window above every earlier leader's limit ('acquiring').
   */
  isServing(): boolean {
    return this.role === 'leader' && monotonicMs() < this.leaseValidUntil;
  }

  /** The range [first, first + count); count is validated by the caller (1 .. 2^18). */
  allocate(count: number): Timestamp | Promise<Timestamp> {
    if (!this.isServing()) throw this.notLeader();
    const first = this.allocator.tryAllocate(count);
    if (first !== undefined) {
      this.options.metrics.timestampsServed.inc(count);
      return first;
    }
    return this.allocateAfterPersist(count);
  }

  /** The window ran out (wall clock jumped ahead or a burst outran renewals): persist more, then serve. */
  private async allocateAfterPersist(count: number): Promise<Timestamp> {
    for (let attempt = 0; attempt < 3; attempt++) {
      await this.persistWindow();
      if (!this.isServing()) throw this.notLeader();
      const first = this.allocator.tryAllocate(count);
      if (first !== undefined) {
        this.options.metrics.timestampsServed.inc(count);
        return first;
      }
    }
    throw new OracleUnavailableError('timestamp window could not be extended fast enough');
  }

  private notLeader(): OracleNotLeaderError {
    if (this.role === 'leader') return new OracleNotLeaderError(undefined, 'lease may have expired; re-acquiring');
    if (this.role === 'acquiring') return new OracleNotLeaderError(undefined, 'becoming leader');
    return new OracleNotLeaderError(this.leaderHint.address ?? undefined, 'follower', this.leaderHint.epoch);
  }

  private async run(): Promise<void> {
    const { logger } = this.options;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (this.role === 'follower') {
          await this.campaign();
          if (this.role === 'follower') await this.sleep(this.campaignIntervalMs);
        } else {
          await this.persistWindow();
          await this.sleep(this.renewIntervalMs);
        }
      } catch (error) {
        if (this.stopped) break;
        this.options.metrics.leaseRenewals.inc({ result: 'error' });
        // Once, then every 20th attempt (about every 10 s): an outage must not flood the log.
        if (failures++ % 20 === 0) {
          logger.warn({ err: error, role: this.role, failures }, 'meta database unreachable; serving stops when the lease runs out');
        }
        await this.sleep(this.campaignIntervalMs);
        continue;
      }
      failures = 0;
    }
  }

  private async campaign(): Promise<void> {
    const { store, leaseMs, logger } = this.options;
    const advertiseAddress = this.advertiseAddress;
    const sentAt = monotonicMs();
    const grant = await store.tryAcquireLease(this.id, advertiseAddress, leaseMs);
    if (this.stopped) {
      if (grant) await store.releaseLease(grant.epoch);
      return;
    }
    if (!grant) {
      const info = await store.readLeader();
      if (info.address !== this.leaderHint.address || info.epoch !== this.leaderHint.epoch) {
        this.leaderHint = { address: info.expired ? null : info.address, epoch: info.epoch };
        this.options.onRoleChange?.('follower', { epoch: info.epoch, leaderAddress: this.leaderHint.address });
      }
      return;
    }
    // Before serving: every map written under earlier epochs is counted in the generation ranges carry.
    this.generation = await store.placementGeneration();
    this.epoch = grant.epoch;
    this.leaseValidUntil = sentAt + leaseMs - this.leaseMarginMs;
    this.allocator.resetForNewTerm(grant.timestampLimit);
    this.leaderHint = { address: advertiseAddress, epoch: grant.epoch };
    this.options.metrics.epoch.set(Number(grant.epoch));
    logger.info({ epoch: grant.epoch.toString(), previousLimitMs: physicalMs(grant.timestampLimit) }, 'acquired the lease');
    this.setRole('acquiring');
    await this.persistWindow();
  }

  /** Renews the lease and persists a window ahead; one at a time. */
  private persistWindow(): Promise<void> {
    this.persisting ??= this.renew().finally(() => {
      this.persisting = undefined;
    });
    return this.persisting;
  }

  private async renew(): Promise<void> {
    const { store, leaseMs, windowMs, metrics, logger } = this.options;
    if (this.role === 'follower') return;
    const epoch = this.epoch;
    const sentAt = monotonicMs();
    const limit = await store.renewLease(epoch, leaseMs, this.allocator.proposeLimit(windowMs));
    // Stepped down or re-elected while the statement ran: this answer is stale.
    if (this.currentRole === 'follower' || epoch !== this.epoch) return;
    if (limit === undefined) {
      metrics.leaseRenewals.inc({ result: 'fenced' });
      logger.warn({ epoch: epoch.toString() }, 'another oracle took the lease; stepping down');
      this.leaderHint = { address: null, epoch };
      this.setRole('follower');
      return;
    }
    metrics.leaseRenewals.inc({ result: 'ok' });
    this.leaseValidUntil = Math.max(this.leaseValidUntil, sentAt + leaseMs - this.leaseMarginMs);
    this.allocator.acceptPersistedLimit(limit);
    metrics.timestampLimitMs.set(physicalMs(limit));
    if (this.role === 'acquiring') this.setRole('leader');
  }

  private setRole(role: OracleRole): void {
    if (role === this.role) return;
    this.role = role;
    this.options.metrics.isLeader.set(role === 'leader' ? 1 : 0);
    this.options.logger.info({ role, epoch: this.epoch.toString() }, 'oracle role changed');
    if (role !== 'acquiring') {
      this.options.onRoleChange?.(role, { epoch: this.epoch, leaderAddress: role === 'leader' ? this.advertiseAddress : this.leaderHint.address });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
