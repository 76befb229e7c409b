import type { Timestamp } from '../timestamp.js';

export interface CommitHookInfo {
  readonly startTs: Timestamp;
  readonly commitTs?: Timestamp | undefined;
  /** Shard of the primary key. */
  readonly primaryShard: number;
  readonly shards: readonly number[];
}

/**
 * Named failure points of the commit path, for tests that kill the client
 * (or pause it) at each phase. When a hook is set, the phases around it run
 * in a fixed order so that "after the primary only" and "midway through the
 * secondaries" are well defined: the primary's shard is prewritten before
 * the others, and secondaries are committed one shard at a time.
 */
export interface CommitHooks {
  /** The primary's shard is prewritten; no other shard is yet. */
  afterPrewritePrimary?(info: CommitHookInfo): void | Promise<void>;
  /** Every shard is prewritten; commit_ts not yet fetched. */
  afterPrewriteAll?(info: CommitHookInfo): void | Promise<void>;
  /** commit_ts is known and read validation passed; the primary is not yet committed. */
  beforeCommitPrimary?(info: CommitHookInfo): void | Promise<void>;
  /** The primary is committed (the transaction is committed); no secondary is yet. */
  afterCommitPrimary?(info: CommitHookInfo): void | Promise<void>;
  /** The first secondary shard is committed, the rest are not. */
  midSecondaries?(info: CommitHookInfo): void | Promise<void>;
}
