import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidInputError } from '../errors.js';
import type { PlacementMap } from '../shard/placement-map.js';
import type { SlotMove } from './rebalance-plan.js';
import { moveSlots, type SlotMoveContext } from './slot-move.js';

/** How fast moves may go: the bound on what they take from foreground work. */
export interface MoveThrottle {
  /** At most this many rows copied per second by the data copy of a move (default: unthrottled). */
  readonly maxRowsPerSecond?: number | undefined;
  /** A pause between two batches, so foreground work catches up after each switch (default 0). */
  readonly pauseMs?: number | undefined;
}

/** Where a run of moves stands, after each batch (and, while data is copied, after each page). */
export interface RebalanceProgress {
  /** Batches done, of `batches`. */
  readonly done: number;
  readonly batches: number;
  /** Slots switched so far, of `slots`. */
  readonly slotsMoved: number;
  readonly slots: number;
  /** Rows copied so far by every batch (0 for empty slots). */
  readonly rowsCopied: number;
  /** The batch under way, if any. */
  readonly current?: SlotMove | undefined;
}

export interface RunMovesOptions {
  readonly throttle?: MoveThrottle | undefined;
  readonly onProgress?: ((progress: RebalanceProgress) => void) | undefined;
}

/** Moves one batch of slots with their rows from one shard to another (slot-move.ts): the one place that says how. */
export async function moveSlotBatch(ctx: SlotMoveContext, move: SlotMove, options: { maxRowsPerSecond?: number | undefined; onRows?: (rows: number) => void } = {}): Promise<PlacementMap> {
  let reported = 0;
  return moveSlots(ctx, move, {
    maxRowsPerSecond: options.maxRowsPerSecond,
    onProgress: (progress) => {
      if (progress.rowsCopied > reported) options.onRows?.(progress.rowsCopied - reported);
      reported = Math.max(reported, progress.rowsCopied);
    },
  });
}

/** Checks a throttle given by a user (InvalidInputError). */
export function checkThrottle(throttle: MoveThrottle | undefined): void {
  if (!throttle) return;
  const { maxRowsPerSecond, pauseMs } = throttle;
  if (maxRowsPerSecond !== undefined && !(Number.isFinite(maxRowsPerSecond) && maxRowsPerSecond > 0)) {
    throw new InvalidInputError(`throttle.maxRowsPerSecond must be a positive number, got ${maxRowsPerSecond}`);
  }
  if (pauseMs !== undefined && !(Number.isFinite(pauseMs) && pauseMs >= 0)) throw new InvalidInputError(`throttle.pauseMs must be a non-negative number, got ${pauseMs}`);
}

/**
 * Runs planned moves one batch at a time (one switch, so one short freeze
 * of a batch's slots, at a time), reporting progress. Stops at the first
 * failure: every batch done stays done, the one that failed leaves each of
 * its slots with one owner, and planning again from the map resumes.
 */
export async function runMoves(ctx: SlotMoveContext, moves: readonly SlotMove[], options: RunMovesOptions = {}): Promise<void> {
  checkThrottle(options.throttle);
  const slots = moves.reduce((n, m) => n + m.slots.length, 0);
  let progress: RebalanceProgress = { done: 0, batches: moves.length, slotsMoved: 0, slots, rowsCopied: 0 };
  const report = (next: Partial<RebalanceProgress>) => {
    progress = { ...progress, ...next };
    options.onProgress?.(progress);
  };
  for (const [i, move] of moves.entries()) {
    if (i > 0 && options.throttle?.pauseMs) await sleep(options.throttle.pauseMs);
    report({ current: move });
    await moveSlotBatch(ctx, move, {
      maxRowsPerSecond: options.throttle?.maxRowsPerSecond,
      onRows: (rows) => report({ rowsCopied: progress.rowsCopied + rows }),
    });
    report({ done: i + 1, slotsMoved: progress.slotsMoved + move.slots.length, current: undefined });
  }
}
