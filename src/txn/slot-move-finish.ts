import { InvalidInputError } from '../errors.js';
import { currentSafePoint } from '../shard/gc-statements.js';
import type { Placement } from './placement.js';
import { readOpenMoves, recordPhase, type MoveJournal } from './slot-move-journal.js';
import { abandonOn, dropOn, unfreezeOn } from './slot-move-ownership.js';

/**
 * Rolls back a move that has not switched: the source takes writes in the
 * slots again, the destination gives them up and its copied rows of them
 * are deleted, and the journal says 'aborted'. A move whose map switch
 * happened cannot be rolled back (move the slots back instead).
 */
export async function rollBackMove(placement: Placement, move: MoveJournal): Promise<void> {
  const from = placement.shards[move.from]!;
  const to = placement.shards[move.to]!;
  await placement.refresh();
  if (move.slots.some((slot) => placement.map.shardOfSlot(slot) === move.to)) {
    throw new InvalidInputError(`the move of slots ${move.slots.join(', ')} to shard ${move.to} already switched the map: move them back instead of aborting`);
  }
  await unfreezeOn(from, move.slots);
  await abandonOn(to, move.slots);
  await recordPhase(to, move, 'aborted', move.rowsCopied);
}

/**
 * The last step of moves: once a source's GC safe point passes a move's
 * switch timestamp, no reader that may still use a map from before the
 * switch is left (a reader's map is at least as new as its start
 * timestamp, and reads below the safe point are refused), so the source's
 * rows of the slots are deleted. Slots that came back to that source since
 * are live data there again and are kept; an older release of a slot from
 * the same source waits for the newest one. Returns the moves finished.
 */
export async function finishMoves(placement: Placement): Promise<number> {
  await placement.refresh();
  const map = placement.map;
  const shards = map.shards.map((s) => placement.shards[s.id]!);
  // Each record with the shard that holds it: the destination, or the source once the destination left (handOverReleasedMoves).
  const held = (await Promise.all(shards.map(async (holder) => (await readOpenMoves(holder)).map((move) => ({ move, holder }))))).flat();
  const released = held.filter(({ move }) => move.phase === 'released');
  const safePoints = new Map<number, bigint>();
  // A record handed over is on both shards until the map drops its destination: one move, finished once.
  const done = new Set<string>();
  const identity = (m: MoveJournal) => `${m.from}>${m.to}@${m.switchTs}:${m.slots.join(',')}`;
  let finished = 0;
  for (const { move, holder } of released) {
    if (done.has(identity(move))) {
      await recordPhase(holder, move, 'dropped', move.rowsCopied);
      continue;
    }
    if (!map.shards.some((s) => s.id === move.from)) {
      // The source left the cluster (removeShard): nothing to delete there; its release is done once the destination's safe point passes the switch.
      if (BigInt((await holder.query<{ safe_point: string }>(currentSafePoint())).rows[0]?.safe_point ?? 0) <= move.switchTs!) continue;
      await recordPhase(holder, move, 'dropped', move.rowsCopied);
      done.add(identity(move));
      finished++;
      continue;
    }
    const source = placement.shards[move.from]!;
    if (!safePoints.has(move.from)) safePoints.set(move.from, BigInt((await source.query<{ safe_point: string }>(currentSafePoint())).rows[0]?.safe_point ?? 0));
    if (safePoints.get(move.from)! <= move.switchTs!) continue;
    const newer = released.filter(({ move: m }) => m !== move && m.from === move.from && m.switchTs! > move.switchTs!).flatMap(({ move: m }) => m.slots);
    await dropOn(source, async (client) => {
      // Slots back on the source, or being copied back to it, hold live rows there (a move back that has not received yet waits for this drop).
      const incoming = (await readOpenMoves(source, client)).filter((m) => m.to === move.from && m.phase !== 'released' && m.phase !== 'receiving').flatMap((m) => m.slots);
      return move.slots.filter((slot) => map.shardOfSlot(slot) !== move.from && !newer.includes(slot) && !incoming.includes(slot));
    });
    await recordPhase(holder, move, 'dropped', move.rowsCopied);
    done.add(identity(move));
    finished++;
  }
  return finished;
}
