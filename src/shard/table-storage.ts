import { commitShared, commitKeys, type SharedCommitEntry } from './commit-statements.js';
import type { KeyTexts } from './key-text.js';
import { heartbeat } from './lock-ttl.js';
import { prewriteShared, type LockWrite, type PrewriteEntry } from './prewrite-statements.js';
import { lockMinCommitTs, lockPrimarySlot, peekPrimary, pushPrimaries, versionByStartTs } from './primary-status-statements.js';
import { deleteLock, rollbackKeys, writeRollbackMarker } from './rollback-statements.js';
import type { Statement } from './shard-pool.js';
import { TableSql } from './table-sql.js';

/**
 * One user table's storage and the protocol's statements on it, as the
 * engine calls them. Each family of statements is written in its own
 * module (prewrite-, commit-, primary-status- and rollback-statements.ts,
 * lock-ttl.ts for the heartbeat); the methods here only name them per
 * table.
 */
export class TableStorage extends TableSql {
  /** Calls the prewrite function for one transaction's rows (prewriteShared of one). */
  prewrite(startTs: bigint, primaryTable: string, primaryKey: KeyTexts, ttlMs: number, rows: readonly LockWrite[]): Statement {
    return prewriteShared(this, [{ startTs, primaryTable, primaryKey, ttlMs, rows }]);
  }

  prewriteShared(entries: readonly PrewriteEntry[]): Statement {
    return prewriteShared(this, entries);
  }

  commitKeys(startTs: bigint, commitTs: bigint, keys: readonly KeyTexts[]): Statement {
    return commitKeys(this, startTs, commitTs, keys);
  }

  commitShared(entries: readonly SharedCommitEntry[]): Statement {
    return commitShared(this, entries);
  }

  rollbackKeys(startTs: bigint, keys: readonly KeyTexts[], markers: readonly boolean[]): Statement {
    return rollbackKeys(this, startTs, keys, markers);
  }

  deleteLock(startTs: bigint, key: KeyTexts): Statement {
    return deleteLock(this, startTs, key);
  }

  writeRollbackMarker(startTs: bigint, key: KeyTexts): Statement {
    return writeRollbackMarker(this, startTs, key);
  }

  peekPrimary(startTs: bigint, key: KeyTexts): Statement {
    return peekPrimary(this, startTs, key);
  }

  lockPrimarySlot(startTs: bigint, key: KeyTexts): Statement {
    return lockPrimarySlot(this, startTs, key);
  }

  pushPrimaries(minCommitTs: bigint, primaries: readonly { startTs: bigint; key: KeyTexts }[]): Statement {
    return pushPrimaries(this, minCommitTs, primaries);
  }

  lockMinCommitTs(startTs: bigint, key: KeyTexts): Statement {
    return lockMinCommitTs(this, startTs, key);
  }

  versionByStartTs(startTs: bigint, key: KeyTexts): Statement {
    return versionByStartTs(this, startTs, key);
  }

  heartbeat(startTs: bigint, key: KeyTexts, ttlMs: number): Statement {
    return heartbeat(this, startTs, key, ttlMs);
  }
}
