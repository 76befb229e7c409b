import { InvalidInputError } from '../errors.js';
import type pg from 'pg';
import type { ShardPool } from '../shard/shard-pool.js';
import { adoptReleasedMove, insertMove, openMoves, setMovePhase } from '../shard/slot-move-journal-statements.js';

/**
 * A move's durable record, on its destination shard (on its source once a
 * released move's destination left the cluster: handOverReleasedMoves)
 * (schema/core/0010-slot-move-journal.sql). `phase` is the last step that
 * completed: 'receiving' (journaled), 'copying' (the destination receives
 * the slots), 'frozen' (the source takes no new locks in them),
 * 'switched' (the map names the destination), 'released' (the source let
 * them go; its rows wait for the GC safe point), 'dropped' or 'aborted'.
 */
export type MoveJournalPhase = 'receiving' | 'copying' | 'frozen' | 'switched' | 'released' | 'dropped' | 'aborted';

export interface MoveJournal {
  readonly id: string;
  readonly from: number;
  readonly to: number;
  readonly slots: readonly number[];
  readonly phase: MoveJournalPhase;
  readonly switchVersion: bigint | undefined;
  readonly switchTs: bigint | undefined;
  readonly rowsCopied: number;
  /** The source's snapshot before which every row of the slots is on the destination (set when frozen). */
  readonly copiedBefore: string | undefined;
}

interface JournalRow {
  id: string;
  from_shard: number;
  to_shard: number;
  slots: number[];
  phase: MoveJournalPhase;
  switch_version: string | null;
  switch_ts: string | null;
  rows_copied: string;
  copied_before: string | null;
}

function toJournal(row: JournalRow): MoveJournal {
  return {
    id: row.id,
    from: row.from_shard,
    to: row.to_shard,
    slots: row.slots,
    phase: row.phase,
    switchVersion: row.switch_version === null ? undefined : BigInt(row.switch_version),
    switchTs: row.switch_ts === null ? undefined : BigInt(row.switch_ts),
    rowsCopied: Number(row.rows_copied),
    copiedBefore: row.copied_before ?? undefined,
  };
}

/** The moves recorded on `shard` (their destination, or their source after a hand-over) that are neither dropped nor aborted. */
export async function readOpenMoves(shard: ShardPool, client?: pg.PoolClient): Promise<MoveJournal[]> {
  return (await shard.query<JournalRow>(openMoves, { client })).rows.map(toJournal);
}

/**
 * The unfinished move of exactly these slots from `from` to `to` (recorded
 * on `to`), if any. A move still in flight (not yet released) on any
 * of the slots with other shards or other slots is refused: one move per
 * slot at a time.
 */
export async function startOrResume(shards: readonly ShardPool[], to: ShardPool, from: number, toId: number, slots: readonly number[]): Promise<MoveJournal | undefined> {
  const open = (await Promise.all(shards.map((shard) => readOpenMoves(shard)))).flat().filter((m) => m.phase !== 'released');
  const same = open.find((m) => m.from === from && m.to === toId && sameSlots(m.slots, slots));
  if (same) return same;
  const overlapping = open.find((m) => m.slots.some((s) => slots.includes(s)));
  if (overlapping) {
    throw new InvalidInputError(
      `slots ${overlapping.slots.filter((s) => slots.includes(s)).join(', ')} are in an unfinished move from shard ${overlapping.from} to ${overlapping.to} (phase ${overlapping.phase}): run that move again to finish it, or abort it`,
    );
  }
  return undefined;
}

/** Journals a new move of `slots` (phase 'receiving') on its destination `to`. */
export async function journalMove(to: ShardPool, from: number, toId: number, slots: readonly number[]): Promise<MoveJournal> {
  return toJournal((await to.query<JournalRow>(insertMove(from, toId, slots))).rows[0]!);
}

export async function recordPhase(
  to: ShardPool,
  move: MoveJournal,
  phase: MoveJournalPhase,
  rowsCopied: number,
  record: { copiedBefore?: string; switchVersion?: bigint; switchTs?: bigint } = {},
  client?: pg.PoolClient,
): Promise<MoveJournal> {
  return toJournal((await to.query<JournalRow>(setMovePhase(move.id, phase, rowsCopied, record), { client })).rows[0]!);
}

/**
 * Before `leaving` (shard id `leavingId`) leaves the map: each released
 * move into it whose source stays keeps its record on that source, since
 * the source's old copy of the slots still waits for the GC safe point to
 * pass the switch (finishMoves), and `leaving`'s journal goes with it.
 * Returns how many records the sources took over.
 */
export async function handOverReleasedMoves(leaving: ShardPool, leavingId: number, sourceOf: (id: number) => ShardPool | undefined): Promise<number> {
  let handedOver = 0;
  for (const move of await readOpenMoves(leaving)) {
    const source = move.from === leavingId ? undefined : sourceOf(move.from);
    if (move.phase !== 'released' || !source) continue;
    await source.query(adoptReleasedMove({ ...move, switchVersion: move.switchVersion!, switchTs: move.switchTs! }));
    handedOver++;
  }
  return handedOver;
}

function sameSlots(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}
