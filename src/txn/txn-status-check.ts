import type { KeyTexts } from '../shard/key-text.js';
import type { PrimaryPeek } from '../shard/primary-status-statements.js';
import type { ShardPool } from '../shard/shard-pool.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { Timestamp } from '../timestamp.js';
import type { TxnStatus } from './txn-status.js';

/**
 * The status of transaction L (`startTs`), decided at its primary key (on
 * `shard`, in `storage`). The decision is taken in one local transaction at
 * the primary's shard that holds the primary's lock slot (row lock), so that
 * concurrent resolvers, L's own commitPrimary and L's late prewrite of the
 * primary all serialize on that row and agree on one outcome:
 *   1. a version of the primary with start_ts = L: committed at its commit_ts;
 *   2. a rollback marker for L, or no lock and the caller's lock expired
 *      (`rollbackIfNotExist`): rolled back (a marker is written if missing,
 *      so L can never commit);
 *   3. L's primary lock with its TTL run out: delete it, write the marker,
 *      rolled back;
 *   4. otherwise alive.
 * A read-only peek at the primary comes first (or `peeked`, what a push
 * statement already saw there): a version (final) or a live lock answers
 * without the locked transaction, so readers of busy keys do not hold up
 * the owner's commitPrimary.
 */
export async function decideTxnStatus(
  shard: ShardPool,
  storage: TableStorage,
  primaryKey: KeyTexts,
  startTs: Timestamp,
  rollbackIfNotExist: boolean,
  peeked?: PrimaryPeek,
): Promise<TxnStatus> {
  // Fast path, one read-only statement: final outcomes and live locks need no row lock.
  const peek = peeked ?? (await shard.query<PrimaryPeek>(storage.peekPrimary(startTs, primaryKey), { prepare: true })).rows[0]!;
  if (peek.version_op !== null) return peek.version_op === 'rollback' ? { kind: 'rolled-back' } : { kind: 'committed', commitTs: BigInt(peek.commit_ts!) };
  if (peek.locked && !peek.expired) return { kind: 'alive', ttlRemainingMs: peek.remaining_ms ?? 0 };
  if (!peek.locked && !rollbackIfNotExist) return { kind: 'alive', ttlRemainingMs: 0 };
  // Expired, or never written: decide under the primary slot's row lock.
  return shard.transaction(async (client): Promise<TxnStatus> => {
    const slot = (await shard.query<{ start_ts: string; op: string; inserted: boolean; expired: boolean; remaining_ms: number }>(
      storage.lockPrimarySlot(startTs, primaryKey),
      { client, prepare: true },
    )).rows[0]!;
    const ownsSlot = !slot.inserted && BigInt(slot.start_ts) === startTs;
    if (ownsSlot) {
      if (!slot.expired) return { kind: 'alive', ttlRemainingMs: slot.remaining_ms };
      await shard.query(storage.deleteLock(startTs, primaryKey), { client, prepare: true });
      await shard.query(storage.writeRollbackMarker(startTs, primaryKey), { client, prepare: true });
      return { kind: 'rolled-back' };
    }
    if (slot.inserted) await shard.query(storage.deleteLock(startTs, primaryKey), { client, prepare: true });
    const version = (await shard.query<{ commit_ts: string; op: string }>(storage.versionByStartTs(startTs, primaryKey), { client, prepare: true })).rows[0];
    if (version && version.op !== 'rollback') return { kind: 'committed', commitTs: BigInt(version.commit_ts) };
    if (version) return { kind: 'rolled-back' };
    if (!rollbackIfNotExist) return { kind: 'alive', ttlRemainingMs: 0 };
    // L's primary was never prewritten (or is being prewritten right now and
    // will find this marker in its conflict check): L can never commit.
    await shard.query(storage.writeRollbackMarker(startTs, primaryKey), { client, prepare: true });
    return { kind: 'rolled-back' };
  });
}
