import type { Statement } from './shard-pool.js';

/**
 * The statements of the slot-move journal on a destination shard (or on
 * the source, for a released move whose destination left the cluster)
 * (schema/core/0010-slot-move-journal.sql). Every statement returns the
 * row's columns as JOURNAL_COLUMNS names them.
 */

const JOURNAL_COLUMNS = `id::text as id, from_shard, to_shard, slots, phase, switch_version::text as switch_version, switch_ts::text as switch_ts, rows_copied::text as rows_copied, copied_before`;

/** Moves not finished (neither dropped nor aborted), oldest first. */
export const openMoves: Statement = {
  text: `select ${JOURNAL_COLUMNS} from percolator_slot_moves where phase not in ('dropped', 'aborted') order by id`,
  values: [],
};

/** Starts a move's journal in phase 'receiving'. */
export function insertMove(from: number, to: number, slots: readonly number[]): Statement {
  return {
    text: `insert into percolator_slot_moves (from_shard, to_shard, slots, phase) values ($1, $2, $3::int[], 'receiving') returning ${JOURNAL_COLUMNS}`,
    values: [from, to, slots],
  };
}

/**
 * Takes over a released move's record from a destination that leaves the
 * cluster (src/txn/slot-move-journal.ts, handOverReleasedMoves), so that
 * the source's copy is still dropped: once (a rerun of the removal finds it).
 */
export function adoptReleasedMove(move: { from: number; to: number; slots: readonly number[]; switchVersion: bigint; switchTs: bigint; rowsCopied: number }): Statement {
  return {
    text: `insert into percolator_slot_moves (from_shard, to_shard, slots, phase, switch_version, switch_ts, rows_copied)
select $1, $2, $3::int[], 'released', $4::bigint, $5::bigint, $6::bigint
where not exists (select 1 from percolator_slot_moves where from_shard = $1 and to_shard = $2 and slots = $3::int[] and switch_ts = $5::bigint)`,
    values: [move.from, move.to, move.slots, move.switchVersion.toString(), move.switchTs.toString(), move.rowsCopied],
  };
}

/** Records that the move reached `phase` (and, once known, its switch version and timestamp). */
export function setMovePhase(id: string, phase: string, rowsCopied: number, record: { copiedBefore?: string; switchVersion?: bigint; switchTs?: bigint }): Statement {
  return {
    text: `update percolator_slot_moves set phase = $2, rows_copied = greatest(rows_copied, $3::bigint), switch_version = coalesce($4::bigint, switch_version),
  switch_ts = coalesce($5::bigint, switch_ts), copied_before = coalesce($6::text, copied_before), updated_at = clock_timestamp()
where id = $1::bigint returning ${JOURNAL_COLUMNS}`,
    values: [id, phase, rowsCopied, record.switchVersion?.toString() ?? null, record.switchTs?.toString() ?? null, record.copiedBefore ?? null],
  };
}

// Arbitrary constant: the advisory lock key of slot moves on a shard.
const MOVES_LOCK_KEY = 7_366_512_003;

/**
 * Held (for the local transaction) while a shard receives slots or drops
 * the rows of slots it gave away: a drop decided from journals read
 * earlier must not delete rows that a move back copied in meanwhile.
 */
export const lockMoves: Statement = { text: 'select pg_advisory_xact_lock($1)', values: [MOVES_LOCK_KEY] };
