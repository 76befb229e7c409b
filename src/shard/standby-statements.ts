import type { Statement } from './shard-pool.js';

/**
 * On a shard's primary: how far its WAL goes now (everything committed there so far lies below it).
 * The insert position, not the write position (pg_current_wal_lsn): commits made with
 * synchronous_commit = off are visible on the primary while their WAL may still sit in its buffers.
 */
export const walPosition: Statement = { text: 'select pg_current_wal_insert_lsn()::text as lsn', values: [] };

export interface ReplayState {
  /** In recovery: a standby (a primary's replay position means nothing). */
  standby: boolean;
  /** Its replay has passed the position asked about: every commit below it is visible there. */
  passed: boolean;
}

/** On one host of a shard: whether it is a standby whose replay has passed `lsn` (from walPosition). */
export function replayPassed(lsn: string): Statement {
  return {
    text: 'select pg_is_in_recovery() as standby, coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false) as passed',
    values: [lsn],
  };
}
