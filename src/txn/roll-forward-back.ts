import { LockWaitTimeoutError } from '../errors.js';
import type { Logger } from '../logger.js';
import { isPostgresAbort } from '../shard/shard-errors.js';
import type { ShardPool } from '../shard/shard-pool.js';
import type { Timestamp } from '../timestamp.js';
import type { FoundLock } from './found-lock.js';
import { groupBy } from './group-by.js';
import { keyChunks } from './table-chunks.js';
import type { TxnStatus } from './txn-status.js';
import type { StoredColumns } from './stored-columns.js';

/**
 * Applies a final status of transaction `startTs` to the `locks` of it that
 * were met: committed, they are rolled forward (lock to version at its
 * commit_ts); rolled back, they are deleted with a rollback marker. One
 * statement per (shard, table) and chunk of keys, in parallel.
 */
export async function rollForwardOrBack(
  shards: readonly ShardPool[],
  storedColumns: StoredColumns,
  logger: Logger,
  startTs: Timestamp,
  status: Exclude<TxnStatus, { kind: 'alive' }>,
  locks: readonly FoundLock[],
): Promise<void> {
  const groups = groupBy(locks, (lock) => `${lock.shard}\u0000${lock.storage.meta.name}`);
  // A crashed large transaction leaves many locks: statements stay as bounded as its own were.
  await Promise.all(
    [...groups.values()].flatMap((locksOfTable) => keyChunks(locksOfTable)).map(async (group) => {
      const { shard, storage } = group[0]!;
      const keys = group.map((l) => l.keyTexts);
      // Rolling forward copies the lock rows by column list: built with the columns the shard stores.
      const statement = (on: (s: typeof storage) => typeof storage) =>
        status.kind === 'committed'
          ? on(storage).commitKeys(startTs, status.commitTs, keys)
          : storage.rollbackKeys(startTs, keys, keys.map(() => true));
      // Rolling forward or back is idempotent; the owner (or another resolver) may be doing the
      // same keys in another order, and Postgres then aborts one of us: run it again.
      const began = Date.now();
      for (let attempt = 0; ; attempt++) {
        try {
          await storedColumns.run(shard, (on) => shards[shard]!.query(statement(on), { prepare: true }));
          return;
        } catch (error) {
          if (!isPostgresAbort(error)) throw error;
          // Still busy after three tries (each up to the 1 s lock timeout): someone holds these rows; a retry may succeed.
          if (attempt >= 2) throw new LockWaitTimeoutError(storage.meta.name, keys[0], startTs, Date.now() - began);
        }
      }
    }),
  );
  logger.debug({ lockTs: startTs.toString(), outcome: status.kind, keys: locks.length }, 'resolved locks');
}
