import { InvalidInputError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Timestamp } from '../timestamp.js';
import type { PlacementStore } from './placement-store.js';

export interface LeaseGrant {
  epoch: bigint;
  /** Every timestamp any earlier leader served is below this. */
  timestampLimit: Timestamp;
}

export interface LeaderInfo {
  epoch: bigint;
  address: string | null;
  /** By the meta store's clock, the lease ran out (or was released). */
  expired: boolean;
}

/**
 * Where the oracle keeps its lease, its epoch and its timestamp limit. Two
 * backends keep the same promises (docs/ORACLE.md, "Durability and fencing"):
 * a Postgres database (`postgres-meta-store.ts`) and an etcd cluster
 * (`etcd-meta-store.ts`).
 *
 * 1. At most one candidate holds the lease at a time; taking it raises the
 *    epoch, and the store judges expiry by its own clock, never the oracle's.
 * 2. Every write of a holder is fenced by its epoch: once another candidate
 *    took the lease, the old holder's renewals change nothing.
 * 3. The stored limit never decreases, and a new holder is granted at least it.
 * 4. A lease is held for at least `leaseMs` after the acquire or renew
 *    request was sent (longer is allowed): the oracle stops serving before that.
 * 5. Placement maps (PlacementStore) are written only by the epoch holding
 *    the lease, by compare-and-set on their version.
 */
export interface MetaStore extends PlacementStore {
  /**
   * Takes the lease if nobody holds it (or this candidate holds it under an
   * earlier epoch whose answer was lost), raising the epoch.
   */
  tryAcquireLease(candidateId: string, address: string, leaseMs: number): Promise<LeaseGrant | undefined>;
  /**
   * Renews the lease of `epoch` and stores max(stored, `timestampLimit`).
   * Returns the limit now stored, or undefined when `epoch` no longer holds the lease.
   */
  renewLease(epoch: bigint, leaseMs: number, timestampLimit: Timestamp): Promise<Timestamp | undefined>;
  /** Gives the lease up at once (graceful shutdown) so that a standby need not wait for it to expire. */
  releaseLease(epoch: bigint): Promise<void>;
  readLeader(): Promise<LeaderInfo>;
  close(): Promise<void>;
}

export interface MetaStoreOptions {
  logger: Logger;
  /** Longest one request to the store may take: a statement that outlives the lease is useless. */
  queryTimeoutMs: number;
  /** How long to keep trying to reach the store at start (it may still be starting). */
  startTimeoutMs: number;
}

/** Opens the meta store a `--meta` URL names: `postgres://...`, `etcd://host:port,host:port[/prefix]` or `etcds://...` (TLS). */
export async function openMetaStore(url: string, options: MetaStoreOptions): Promise<MetaStore> {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') {
    const { PostgresMetaStore } = await import('./postgres-meta-store.js');
    return PostgresMetaStore.open(url, options);
  }
  if (scheme === 'etcd' || scheme === 'etcds') {
    const { EtcdMetaStore } = await import('./etcd-meta-store.js');
    return EtcdMetaStore.open(url, options);
  }
  throw new InvalidInputError(`meta store URL must start with postgres://, etcd:// or etcds:// (got ${scheme ? `${scheme}://` : 'no scheme'})`);
}
