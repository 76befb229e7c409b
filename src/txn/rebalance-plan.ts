import { InvalidInputError } from '../errors.js';
import { SLOT_COUNT } from '../shard/placement-map.js';

/** Slots to move from one shard to another in one step (a batch: one switch, one freeze). */
export interface SlotMove {
  readonly from: number;
  readonly to: number;
  readonly slots: readonly number[];
}

/** Rows stored, to balance by as well as slots. */
export interface RowCounts {
  /** Per slot (index = slot): the most precise. */
  readonly perSlot?: readonly number[] | undefined;
  /** Per shard id: spread evenly over the shard's slots when per-slot counts are not known. */
  readonly perShard?: ReadonlyMap<number, number> | undefined;
}

export interface RebalanceInput {
  /** Owner shard id of every slot (the placement map's slots). */
  readonly owners: ArrayLike<number>;
  /** The shards that should hold slots afterwards; slots on any other shard are all moved off it (a drain). */
  readonly shards: readonly number[];
  readonly rows?: RowCounts | undefined;
  /** Most slots in one move (default 64). */
  readonly batchSlots?: number | undefined;
  /** Rows are balanced when every shard holds within this fraction of the mean (default 0.1). */
  readonly rowTolerance?: number | undefined;
}

export const DEFAULT_BATCH_SLOTS = 64;

/**
 * Plans a rebalance (pure): the moves after which every shard of `shards`
 * holds the same number of slots give or take one and, given row counts,
 * rows within `rowTolerance` of the mean where the slots' sizes allow it,
 * moving as few slots as possible. Slots are the unit, so rows colocated by
 * shard key stay together.
 *
 * Slot counts first: the shards holding most slots keep the extra ones of
 * an uneven split, every shard keeps all it may, and only the excess moves
 * (the fewest moves that balance slots). With row counts, donors give away
 * heavy or light slots as their rows require, each freed slot goes to the
 * receiver with fewest rows (heaviest first), then pairs of slots are
 * swapped between the heaviest and lightest shard while that narrows the
 * spread. The moves are the difference between the old and the new owner
 * of each slot, batched per (from, to) and interleaved across pairs.
 */
export function planRebalance(input: RebalanceInput): SlotMove[] {
  const targets = [...new Set(input.shards)].sort((a, b) => a - b);
  if (targets.length === 0) throw new InvalidInputError('a rebalance needs at least one shard to hold the slots');
  if (input.owners.length !== SLOT_COUNT) throw new InvalidInputError(`a placement has ${SLOT_COUNT} slots, got ${input.owners.length}`);
  const batchSlots = input.batchSlots ?? DEFAULT_BATCH_SLOTS;
  if (!Number.isInteger(batchSlots) || batchSlots < 1) throw new InvalidInputError(`batchSlots must be a positive integer, got ${input.batchSlots}`);
  const before = Array.from(input.owners);
  const weights = slotWeights(before, input.rows);
  const owners = [...before];
  balanceSlots(owners, targets, weights);
  if (weights) balanceRows(owners, targets, weights, input.rowTolerance ?? 0.1);
  return batchesOf(before, owners, batchSlots);
}

/** Per-slot rows, from per-slot counts or a shard's count spread over its slots; undefined: balance slots only. */
function slotWeights(owners: readonly number[], rows: RowCounts | undefined): number[] | undefined {
  if (rows?.perSlot) {
    if (rows.perSlot.length !== SLOT_COUNT) throw new InvalidInputError(`per-slot row counts cover ${SLOT_COUNT} slots, got ${rows.perSlot.length}`);
    return rows.perSlot.map((n) => Math.max(0, n));
  }
  if (!rows?.perShard) return undefined;
  const slotsOf = countBy(owners);
  return owners.map((owner) => Math.max(0, rows.perShard!.get(owner) ?? 0) / (slotsOf.get(owner) ?? 1));
}

function countBy(owners: readonly number[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const owner of owners) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  return counts;
}

/** Each target's slot quota: equal, the remainder to those holding most now (so fewest slots move). */
export function slotQuotas(owners: ArrayLike<number>, targets: readonly number[]): Map<number, number> {
  const counts = countBy(Array.from(owners));
  const base = Math.floor(SLOT_COUNT / targets.length);
  const extra = SLOT_COUNT % targets.length;
  const byHolding = [...targets].sort((a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || a - b);
  return new Map(byHolding.map((shard, i) => [shard, base + (i < extra ? 1 : 0)]));
}

function balanceSlots(owners: number[], targets: readonly number[], weights: number[] | undefined): void {
  const quotas = slotQuotas(owners, targets);
  const held = new Map<number, number[]>();
  owners.forEach((owner, slot) => {
    const list = held.get(owner) ?? [];
    list.push(slot);
    held.set(owner, list);
  });
  const rows = new Map<number, number>(targets.map((t) => [t, 0]));
  const total = weights ? weights.reduce((a, b) => a + b, 0) : 0;
  const mean = total / targets.length;
  const freed: number[] = [];
  for (const [owner, slots] of held) {
    const quota = quotas.get(owner) ?? 0;
    if (weights) {
      // Keep the slots that leave this shard's rows nearest the mean: give away heavy ones from a heavy shard, light ones from a light one.
      const weightOf = (slot: number) => weights[slot]!;
      const sum = slots.reduce((a, s) => a + weightOf(s), 0);
      const heavy = quota > 0 && sum * (quota / slots.length) > mean;
      slots.sort((a, b) => (heavy ? weightOf(a) - weightOf(b) : weightOf(b) - weightOf(a)) || a - b);
    }
    const keep = Math.min(quota, slots.length);
    freed.push(...slots.slice(keep));
    if (rows.has(owner)) rows.set(owner, slots.slice(0, keep).reduce((a, s) => a + (weights?.[s] ?? 0), 0));
    held.set(owner, slots.slice(0, keep));
  }
  if (weights) freed.sort((a, b) => weights[b]! - weights[a]! || a - b);
  const room = new Map(targets.map((t) => [t, quotas.get(t)! - (held.get(t)?.length ?? 0)]));
  for (const slot of freed) {
    // Heaviest freed slot first, to the receiver with room and fewest rows (without weights: most room).
    let best: number | undefined;
    for (const t of targets) {
      if (room.get(t)! <= 0) continue;
      if (best === undefined || (weights ? rows.get(t)! < rows.get(best)! : room.get(t)! > room.get(best)!)) best = t;
    }
    owners[slot] = best!;
    room.set(best!, room.get(best!)! - 1);
    rows.set(best!, rows.get(best!)! + (weights?.[slot] ?? 0));
  }
}

/** Swaps slot pairs between the heaviest and the lightest shard while that narrows their gap (slot counts unchanged). */
function balanceRows(owners: number[], targets: readonly number[], weights: readonly number[], tolerance: number): void {
  if (targets.length < 2) return;
  const members = new Map<number, number[]>(targets.map((t) => [t, []]));
  owners.forEach((owner, slot) => members.get(owner)!.push(slot));
  const rowsOf = (shard: number) => members.get(shard)!.reduce((sum, slot) => sum + weights[slot]!, 0);
  const rows = new Map<number, number>(targets.map((t) => [t, rowsOf(t)]));
  const mean = [...rows.values()].reduce((a, b) => a + b, 0) / targets.length;
  for (let round = 0; round < SLOT_COUNT; round++) {
    const sorted = [...targets].sort((a, b) => rows.get(a)! - rows.get(b)! || a - b);
    const light = sorted[0]!;
    const heavy = sorted[sorted.length - 1]!;
    if (rows.get(heavy)! <= mean * (1 + tolerance) && rows.get(light)! >= mean * (1 - tolerance)) return;
    const swap = bestSwap(members.get(heavy)!, members.get(light)!, weights, rows.get(heavy)! - rows.get(light)!);
    if (!swap) return;
    const [i, j] = swap;
    const heavySlots = members.get(heavy)!;
    const lightSlots = members.get(light)!;
    const a = heavySlots[i]!;
    const b = lightSlots[j]!;
    heavySlots[i] = b;
    lightSlots[j] = a;
    owners[a] = light;
    owners[b] = heavy;
    const delta = weights[a]! - weights[b]!;
    rows.set(heavy, rows.get(heavy)! - delta);
    rows.set(light, rows.get(light)! + delta);
  }
}

/** Positions (i in heavy, j in light) of the pair whose exchange brings the gap nearest zero, if it narrows it at all. */
function bestSwap(heavySlots: readonly number[], lightSlots: readonly number[], weights: readonly number[], gap: number): [number, number] | undefined {
  const order = lightSlots.map((_, j) => j).sort((x, y) => weights[lightSlots[x]!]! - weights[lightSlots[y]!]!);
  const weightAt = (k: number) => weights[lightSlots[order[k]!]!]!;
  let best: [number, number] | undefined;
  let bestGap = gap;
  heavySlots.forEach((a, i) => {
    // The ideal partner weighs w(a) - gap/2: binary search for the nearest ones.
    const want = weights[a]! - gap / 2;
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (weightAt(mid) < want) lo = mid + 1;
      else hi = mid;
    }
    for (const k of [lo - 1, lo]) {
      if (k < 0 || k >= order.length) continue;
      const delta = weights[a]! - weightAt(k);
      const after = Math.abs(gap - 2 * delta);
      if (delta > 0 && after < bestGap) {
        bestGap = after;
        best = [i, order[k]!];
      }
    }
  });
  return best;
}

/** The moves from `before` to `after`: per (from, to) in slot order, cut into batches, pairs taking turns. */
function batchesOf(before: readonly number[], after: readonly number[], batchSlots: number): SlotMove[] {
  const pairs = new Map<string, { from: number; to: number; slots: number[] }>();
  before.forEach((from, slot) => {
    const to = after[slot]!;
    if (from === to) return;
    const key = `${from}>${to}`;
    const pair = pairs.get(key) ?? { from, to, slots: [] };
    pair.slots.push(slot);
    pairs.set(key, pair);
  });
  const queues = [...pairs.values()].map((pair) => {
    const batches: SlotMove[] = [];
    for (let i = 0; i < pair.slots.length; i += batchSlots) batches.push({ from: pair.from, to: pair.to, slots: pair.slots.slice(i, i + batchSlots) });
    return batches;
  });
  const moves: SlotMove[] = [];
  for (let i = 0; queues.some((q) => i < q.length); i++) for (const q of queues) if (i < q.length) moves.push(q[i]!);
  return moves;
}
