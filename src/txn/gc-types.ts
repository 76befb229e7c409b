import type { Timestamp } from '../timestamp.js';

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
