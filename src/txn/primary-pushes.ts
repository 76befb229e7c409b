import type { KeyTexts } from '../shard/key-text.js';
import type { PrimaryPeek } from '../shard/primary-status-statements.js';
import { isPostgresAbort } from '../shard/shard-errors.js';
import type { Placement } from './placement.js';
import type { ShardPool } from '../shard/shard-pool.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { Timestamp } from '../timestamp.js';
import { setBounded } from './bounded-map.js';
import type { FoundLock } from './found-lock.js';
import type { TableDirectory } from './table-directory.js';

/** Per transaction: 'pushed' (now or before), or what the push statement saw at a primary it could not push. */
export type PushOutcome = 'pushed' | PrimaryPeek;

/**
 * Pushes of live owners' primary locks (`min_commit_ts`, docs/DESIGN.md
 * "Push"), and the transactions this process pushed: they can only commit
 * at or above the remembered min_commit_ts (it never decreases), so a
 * reader below it reads past their locks without asking again.
 */
export class PrimaryPushes {
  private readonly pushed = new Map<string, Timestamp>();

  constructor(
    private readonly placement: Placement,
    private readonly tables: TableDirectory,
    /** Transactions remembered, the oldest forgotten first. */
    private readonly capacity: number,
  ) {}

  /** The min_commit_ts this process pushed transaction `startTs` to (0 if none). */
  pushedTo(startTs: Timestamp): Timestamp {
    return this.pushed.get(startTs.toString()) ?? 0n;
  }

  /**
   * Pushes the primary locks of `locks`' owners to commit at or above
   * `minCommitTs`: one statement per (primary shard, table), in parallel.
   * Per transaction id (start_ts): 'pushed' (now or before), or what the
   * statement saw at a primary it could not push (its lock gone, expired or
   * a placeholder).
   */
  async push(locks: readonly FoundLock[], minCommitTs: Timestamp): Promise<Map<string, PushOutcome>> {
    const outcomes = new Map<string, PushOutcome>();
    const groups = new Map<string, { shard: ShardPool; storage: TableStorage; primaries: { startTs: Timestamp; key: KeyTexts }[] }>();
    for (const lock of locks) {
      const id = lock.startTs.toString();
      if ((this.pushed.get(id) ?? 0n) >= minCommitTs) {
        outcomes.set(id, 'pushed');
        continue;
      }
      const storage = await this.tables.primaryStorage(lock.primaryTable, lock.shard, lock.startTs);
      const shardIndex = this.placement.shardOfKey(storage.meta, lock.primaryKey);
      const groupId = `${shardIndex}\u0000${lock.primaryTable}`;
      const group = groups.get(groupId) ?? { shard: this.placement.shards[shardIndex]!, storage, primaries: [] };
      group.primaries.push({ startTs: lock.startTs, key: lock.primaryKey });
      groups.set(groupId, group);
    }
    await Promise.all(
      [...groups.values()].map(async ({ shard, storage, primaries }) => {
        let rows: (PrimaryPeek & { start_ts: string; pushed: boolean })[];
        try {
          ({ rows } = await shard.query<PrimaryPeek & { start_ts: string; pushed: boolean }>(storage.pushPrimaries(minCommitTs, primaries), { prepare: true }));
        } catch (error) {
          // A prewrite's ON CONFLICT locks other transactions' lock rows in its own key
          // order: Postgres may pick this push as a deadlock victim. Nothing was pushed;
          // each owner is then looked at afresh (and waited for if alive).
          if (!isPostgresAbort(error)) throw error;
          return;
        }
        for (const row of rows) {
          if (!row.pushed) {
            // A live lock we could not push went away while we waited for its row
            // (commitPrimary), after this statement's snapshot: only a fresh peek can tell.
            if (!row.locked || row.expired) outcomes.set(row.start_ts, row);
            continue;
          }
          outcomes.set(row.start_ts, 'pushed');
          setBounded(this.pushed, row.start_ts, minCommitTs, this.capacity);
        }
      }),
    );
    return outcomes;
  }
}
