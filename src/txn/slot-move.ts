import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidInputError, PlacementChangedError, SlotMoveError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TimestampSource } from '../oracle/timestamp-source.js';
import { currentSafePoint, raiseSafePoint } from '../shard/gc-statements.js';
import type { PlacementMap } from '../shard/placement-map.js';
import type { ShardPool } from '../shard/shard-pool.js';
import type { LockResolver } from './lock-resolver.js';
import type { Placement } from './placement.js';
import { SlotCopier } from './slot-move-copy.js';
import { finishMoves, rollBackMove } from './slot-move-finish.js';
import { journalMove, readOpenMoves, recordPhase, startOrResume, type MoveJournal } from './slot-move-journal.js';
import { resolveSlotLocks } from './slot-move-locks.js';
import { receiveOn } from './slot-move-ownership.js';
import { freezeOwner, switchSlots, type SlotSwitch } from './slot-switch.js';
import type { TableDirectory } from './table-directory.js';

/** What a mover needs of the engine. */
export interface SlotMoveContext {
  readonly placement: Placement;
  readonly resolver: LockResolver;
  readonly tables: TableDirectory;
  readonly timestampSource: TimestampSource;
  readonly logger: Logger;
}

/** The steps of a move, in order; `atStep` is called after each. */
export const MOVE_STEPS = ['journaled', 'received', 'copied', 'caught-up', 'frozen', 'resolved', 'final-copied', 'switched', 'released'] as const;
export type MoveStep = (typeof MOVE_STEPS)[number];

export interface MoveProgress {
  readonly from: number;
  readonly to: number;
  readonly slots: number;
  /** The step under way: copying, catching up, or the last step completed. */
  readonly phase: MoveStep | 'copying' | 'catching-up' | 'final-copy';
  /** Rows written to the destination so far by this move (a resumed move counts again from what its journal recorded). */
  readonly rowsCopied: number;
}

export interface MoveOptions {
  /** Throttle of the copy: at most this many rows per second (default: unthrottled). */
  readonly maxRowsPerSecond?: number | undefined;
  /** Rows per page read and written (default 1000). */
  readonly pageRows?: number | undefined;
  readonly onProgress?: ((progress: MoveProgress) => void) | undefined;
  /** Awaited after each step (tests stop a mover there). */
  readonly atStep?: ((step: MoveStep) => void | Promise<void>) | undefined;
  /** How long live transactions' locks in the frozen slots are waited for before the move is rolled back (default 30 s). */
  readonly lockWaitMs?: number | undefined;
  /** Catch-up passes before freezing at most (default 5); a pass that copies no more than a page ends them. */
  readonly catchUpPasses?: number | undefined;
  /** How long the destination's rows of the slots from an earlier move away are waited for to be dropped (default 60 s). */
  readonly dropWaitMs?: number | undefined;
}

/** Attempts of the switch when other map changes win the compare-and-set. */
const SWITCH_ATTEMPTS = 5;

/**
 * Moves `slots` with their data from shard `from` to `to`, online
 * (docs/DESIGN.md "Moving slots with data"): journal the move on `to`,
 * `to` receives the slots, copy their committed rows at a snapshot, catch
 * up with what was written since, freeze them on `from`, resolve their
 * locks there, copy the rest, switch (switchSlots: grant, map
 * compare-and-set, release), and record the switch timestamp so that
 * `finishMoves` drops `from`'s copy once the GC safe point passes it.
 * Resumable: run again after a crash, it finds the journal and goes on from
 * the last step recorded (or `abortMove` rolls it back). Returns the map
 * after the switch.
 */
export async function moveSlots(ctx: SlotMoveContext, move: SlotSwitch, options: MoveOptions = {}): Promise<PlacementMap> {
  const { placement } = ctx;
  if (!placement.source || !placement.mapped) throw new InvalidInputError('slots move only in a cluster whose placement map the oracle keeps');
  await placement.refresh();
  const slots = [...new Set(move.slots)].sort((a, b) => a - b);
  const from = placement.shards[move.from];
  const to = placement.shards[move.to];
  const inMap = (id: number) => placement.map.shards.some((s) => s.id === id);
  if (!from || !to || !inMap(move.from) || !inMap(move.to) || move.from === move.to) {
    throw new InvalidInputError(`shards ${move.from} and ${move.to} must be two shards of the map of cluster ${placement.map.clusterId}`);
  }
  await finishMoves(placement);
  const shards = placement.map.shards.map((s) => placement.shards[s.id]!);
  let journal = await startOrResume(shards, to, move.from, move.to, slots);
  const map = placement.map;
  if (!journal) {
    if (slots.every((slot) => map.shardOfSlot(slot) === move.to)) return map;
    const elsewhere = slots.filter((slot) => map.shardOfSlot(slot) !== move.from);
    if (elsewhere.length > 0) throw new InvalidInputError(`slots ${elsewhere.join(', ')} are not on shard ${move.from}`);
    journal = await journalMove(to, move.from, move.to, slots);
    await options.atStep?.('journaled');
  }
  return new SlotMover(ctx, from, to, { from: move.from, to: move.to, slots }, options).run(journal);
}

/**
 * Runs again every move an interrupted mover left before its release (a
 * journal in phase receiving, copying, frozen or switched on a shard of the
 * map), so that a new change of placement starts with no slot frozen for a
 * map version it might take itself. Returns how many were finished.
 */
export async function finishInterruptedMoves(ctx: SlotMoveContext): Promise<number> {
  const { placement } = ctx;
  await placement.refresh();
  const shards = placement.map.shards.map((s) => placement.shards[s.id]!);
  const interrupted = (await Promise.all(shards.map((shard) => readOpenMoves(shard)))).flat().filter((m) => m.phase !== 'released');
  for (const move of interrupted) await moveSlots(ctx, { from: move.from, to: move.to, slots: move.slots });
  return interrupted.length;
}

/** Rolls back the unfinished move of exactly these slots (see rollBackMove); false when there is none. */
export async function abortMove(ctx: SlotMoveContext, move: SlotSwitch): Promise<boolean> {
  const slots = [...new Set(move.slots)].sort((a, b) => a - b);
  const shards = ctx.placement.map.shards.map((s) => ctx.placement.shards[s.id]!);
  const journal = await startOrResume(shards, ctx.placement.shards[move.to]!, move.from, move.to, slots);
  if (!journal) return false;
  await rollBackMove(ctx.placement, journal);
  return true;
}

/** One move's run from its journal's phase on. */
class SlotMover {
  private rows = 0;
  private phase: MoveProgress['phase'] = 'journaled';
  private copier: SlotCopier | undefined;

  constructor(
    private readonly ctx: SlotMoveContext,
    private readonly from: ShardPool,
    private readonly to: ShardPool,
    private readonly move: SlotSwitch,
    private readonly options: MoveOptions,
  ) {}

  async run(start: MoveJournal): Promise<PlacementMap> {
    let journal = start;
    this.rows = journal.rowsCopied;
    const copier = await this.copierOf();
    for (let attempt = 1; ; attempt++) {
      if (journal.phase === 'receiving') {
        journal = await this.receive(journal);
        await this.step('received');
      }
      if (journal.phase === 'copying') {
        const copiedBefore = await this.copyAndCatchUp(copier);
        // The version the switch will write: readers of any older map still read the slots here.
        await this.ctx.placement.refresh();
        await freezeOwner(this.from, this.move.slots, this.ctx.placement.map.version + 1n);
        journal = await this.record(journal, 'frozen', { copiedBefore });
        await this.step('frozen');
      }
      if (journal.phase !== 'frozen' && journal.phase !== 'switched') return this.ctx.placement.map;
      const map = await this.switchOver(copier, journal);
      if (map) {
        const switchTs = await this.ctx.timestampSource.getTimestamp();
        await this.record(journal, 'released', { switchVersion: map.version, switchTs });
        await this.step('released');
        this.ctx.logger.info({ from: this.move.from, to: this.move.to, slots: this.move.slots.length, rows: this.rows, version: map.version.toString() }, 'slots moved');
        return map;
      }
      // Another map change won the compare-and-set: switchSlots undid the switch, the destination's copy included.
      if (attempt >= SWITCH_ATTEMPTS) throw new SlotMoveError(`the placement map kept changing during the switch of slots to shard ${this.move.to}; the move is rolled back, run it again`);
      this.ctx.logger.info({ attempt }, 'slot move: the map changed during the switch; copying again');
      journal = await this.record(journal, 'receiving');
    }
  }

  /**
   * The destination receives the slots. Rows it still keeps from an
   * earlier move of them away must go first: they go once the GC safe
   * point passes that move's switch (finishMoves, also run after every GC
   * pass), which this waits for until `dropWaitMs`.
   */
  private async receive(journal: MoveJournal): Promise<MoveJournal> {
    const deadline = Date.now() + (this.options.dropWaitMs ?? 60_000);
    for (;;) {
      let copying: MoveJournal | undefined;
      const received = await receiveOn(this.to, this.move.slots, async (client) => (copying = await recordPhase(this.to, journal, 'copying', this.rows, {}, client)));
      if (copying) return copying;
      await finishMoves(this.ctx.placement);
      if (Date.now() >= deadline) {
        const waiting = this.move.slots.filter((slot) => !received.includes(slot));
        await recordPhase(this.to, journal, 'aborted', this.rows);
        throw new SlotMoveError(
          `shard ${this.to.name} still keeps rows of ${waiting.length} of the slots (${waiting.slice(0, 8).join(', ')}${waiting.length > 8 ? ', ...' : ''}) from an earlier move away, readable by readers older than that move until the GC safe point passes it; run the move again later`,
        );
      }
      await sleep(200);
    }
  }

  /** The first copy and the catch-up passes; returns the snapshot before which every row is copied. */
  private async copyAndCatchUp(copier: SlotCopier): Promise<string> {
    let since = await copier.snapshot();
    this.phase = 'copying';
    await copier.copy();
    await this.step('copied');
    this.phase = 'catching-up';
    const passes = this.options.catchUpPasses ?? 5;
    for (let pass = 0; pass < passes; pass++) {
      const next = await copier.snapshot();
      const copied = await copier.copy(since);
      since = next;
      if (copied <= (this.options.pageRows ?? 1000)) break;
    }
    // Locks already decidable are resolved while the slots still take writes (see resolveSlotLocks).
    await resolveSlotLocks(this.ctx.resolver, this.from, await this.ctx.tables.tablesOn(this.from), this.move.slots, Date.now(), false);
    await this.step('caught-up');
    return since;
  }

  /**
   * Frozen source to switched map: resolve the slots' locks on the source,
   * copy what was written since the last copy, raise the destination's GC
   * safe point to the source's (it holds every version a read at or above
   * that needs), then switchSlots. Undefined when another map change won
   * the compare-and-set (switchSlots then undid the switch).
   */
  private async switchOver(copier: SlotCopier, journal: MoveJournal): Promise<PlacementMap | undefined> {
    const placement = this.ctx.placement;
    const since = journal.copiedBefore!;
    {
      await placement.refresh();
      if (!this.move.slots.every((slot) => placement.map.shardOfSlot(slot) === this.move.to)) {
        await freezeOwner(this.from, this.move.slots, placement.map.version + 1n);
        const tables = await this.ctx.tables.tablesOn(this.from);
        try {
          await resolveSlotLocks(this.ctx.resolver, this.from, tables, this.move.slots, Date.now() + (this.options.lockWaitMs ?? 30_000));
        } catch (error) {
          if (error instanceof SlotMoveError) await rollBackMove(placement, journal);
          throw error;
        }
        await this.step('resolved');
        this.phase = 'final-copy';
        await copier.copy(since);
        await this.step('final-copied');
        const { rows } = await this.from.query<{ safe_point: string }>(currentSafePoint());
        await this.to.query(raiseSafePoint(BigInt(rows[0]?.safe_point ?? 0), true, 0));
      }
      try {
        const map = await switchSlots(placement, this.move);
        await this.step('switched');
        return map;
      } catch (error) {
        if (error instanceof PlacementChangedError) return undefined;
        throw error;
      }
    }
  }

  private async copierOf(): Promise<SlotCopier> {
    const tables = await this.ctx.tables.tablesOn(this.from);
    return (this.copier ??= new SlotCopier(this.from, this.to, tables, this.move.slots, {
      pageRows: this.options.pageRows,
      maxRowsPerSecond: this.options.maxRowsPerSecond,
      onRows: (rows) => {
        this.rows += rows;
        this.report();
      },
    }));
  }

  private async record(journal: MoveJournal, phase: MoveJournal['phase'], record: Parameters<typeof recordPhase>[4] = {}): Promise<MoveJournal> {
    return recordPhase(this.to, journal, phase, this.rows, record);
  }

  private async step(step: MoveStep): Promise<void> {
    this.phase = step;
    this.report();
    await this.options.atStep?.(step);
  }

  private report(): void {
    this.options.onProgress?.({ from: this.move.from, to: this.move.to, slots: this.move.slots.length, phase: this.phase, rowsCopied: this.rows });
  }
}

export { finishMoves } from './slot-move-finish.js';
