import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/errors.js';
import { initialSlots, SLOT_COUNT } from '../../src/shard/placement-map.js';
import { planRebalance, slotQuotas, type SlotMove } from '../../src/txn/rebalance-plan.js';

/** Applies the moves in order, checking each takes its slots from their owner at that point. */
function apply(owners: ArrayLike<number>, moves: readonly SlotMove[]): number[] {
  const after = Array.from(owners);
  for (const move of moves) {
    expect(move.from).not.toBe(move.to);
    for (const slot of move.slots) {
      expect(after[slot]).toBe(move.from);
      after[slot] = move.to;
    }
  }
  return after;
}

function counts(owners: readonly number[], shards: readonly number[]): number[] {
  return shards.map((s) => owners.filter((o) => o === s).length);
}

function rowsOf(owners: readonly number[], weights: readonly number[], shards: readonly number[]): number[] {
  return shards.map((s) => owners.reduce((sum, o, slot) => sum + (o === s ? weights[slot]! : 0), 0));
}

/** The fewest slots any balanced assignment must move: what cannot stay where it is. */
function fewestMoves(owners: readonly number[], shards: readonly number[]): number {
  const held = counts(owners, shards).sort((a, b) => b - a);
  const base = Math.floor(SLOT_COUNT / shards.length);
  const extra = SLOT_COUNT % shards.length;
  return SLOT_COUNT - held.reduce((kept, n, i) => kept + Math.min(n, base + (i < extra ? 1 : 0)), 0);
}

/** A placement over shard ids 0..n-1, balanced at first or skewed by earlier changes. */
const placement = fc
  .record({ shards: fc.integer({ min: 1, max: 8 }), skew: fc.array(fc.tuple(fc.nat(SLOT_COUNT - 1), fc.nat(SLOT_COUNT - 1), fc.nat(7)), { maxLength: 20 }) })
  .map(({ shards, skew }) => {
    const owners = Array.from(initialSlots(shards));
    for (const [a, b, to] of skew) for (let s = Math.min(a, b); s <= Math.max(a, b); s++) owners[s] = to % shards;
    return { owners, shards };
  });

describe('planRebalance', () => {
  it('adding a shard to 3 balanced ones moves a quarter of the slots, all onto the new shard, in batches', () => {
    const owners = initialSlots(3);
    const moves = planRebalance({ owners, shards: [0, 1, 2, 3], batchSlots: 100 });
    expect(moves.every((m) => m.to === 3 && m.slots.length <= 100)).toBe(true);
    expect(moves.reduce((n, m) => n + m.slots.length, 0)).toBe(1024);
    expect(counts(apply(owners, moves), [0, 1, 2, 3])).toEqual([1024, 1024, 1024, 1024]);
    // Pairs take turns: the first three batches come from three different shards.
    expect(new Set(moves.slice(0, 3).map((m) => m.from)).size).toBe(3);
  });

  it('a balanced placement needs no move', () => {
    expect(planRebalance({ owners: initialSlots(5), shards: [0, 1, 2, 3, 4] })).toEqual([]);
  });

  it('draining a shard moves exactly its slots, spread over the others', () => {
    const owners = initialSlots(4);
    const after = apply(owners, planRebalance({ owners, shards: [0, 1, 3] }));
    expect(counts(after, [0, 1, 2, 3])).toEqual([1366, 1365, 0, 1365]);
  });

  it('refuses no target shards, a wrong slot count, and a batch size below one', () => {
    expect(() => planRebalance({ owners: initialSlots(2), shards: [] })).toThrow(InvalidInputError);
    expect(() => planRebalance({ owners: [0, 1], shards: [0] })).toThrow(InvalidInputError);
    expect(() => planRebalance({ owners: initialSlots(2), shards: [0, 1], batchSlots: 0 })).toThrow(InvalidInputError);
  });

  it('property: slots balanced to within one, nothing left on drained shards, the fewest slots moved, no slot moved twice', () => {
    fc.assert(
      fc.property(placement, fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 200 }), ({ owners, shards }, keep, batchSlots) => {
        // The new shard set: some of the old ones (at least one) and possibly new ids.
        const targets = Array.from({ length: keep }, (_, i) => (i * 3) % (shards + 2));
        const unique = [...new Set(targets)];
        const moves = planRebalance({ owners, shards: unique, batchSlots });
        const after = apply(owners, moves);
        const held = counts(after, unique);
        expect(Math.max(...held) - Math.min(...held)).toBeLessThanOrEqual(1);
        expect(held.reduce((a, b) => a + b, 0)).toBe(SLOT_COUNT);
        expect(moves.every((m) => m.slots.length >= 1 && m.slots.length <= batchSlots)).toBe(true);
        const moved = moves.flatMap((m) => m.slots);
        expect(new Set(moved).size).toBe(moved.length);
        expect(moved.length).toBe(fewestMoves(owners, unique));
        // The shards holding most keep the extra slots of an uneven split.
        const quotas = slotQuotas(owners, unique);
        unique.forEach((s, i) => expect(held[i]).toBe(quotas.get(s)));
      }),
      { numRuns: 100 },
    );
  });

  it('property: with per-slot rows of bounded size, rows end within 10% of the mean and slots within one', () => {
    fc.assert(
      fc.property(
        placement,
        fc.integer({ min: 1, max: 4 }),
        fc.integer(),
        fc.integer({ min: 0, max: 5 }),
        ({ owners, shards }, added, seed, hot) => {
          // Slots of 0-1000 rows (a seeded generator: 4,096 of them per run), some shards' slots hotter (rows grew unevenly).
          let state = seed >>> 0;
          const next = () => (state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0) % 1001;
          const perSlot = owners.map((owner) => (owner < hot ? next() * 3 : next()));
          const targets = Array.from({ length: shards + added }, (_, i) => i);
          const moves = planRebalance({ owners, shards: targets, rows: { perSlot } });
          const after = apply(owners, moves);
          const held = counts(after, targets);
          expect(Math.max(...held) - Math.min(...held)).toBeLessThanOrEqual(1);
          const rows = rowsOf(after, perSlot, targets);
          const mean = rows.reduce((a, b) => a + b, 0) / targets.length;
          for (const r of rows) expect(Math.abs(r - mean)).toBeLessThanOrEqual(mean * 0.1 + 1e-9);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('per-shard row counts: a shard twice as full gives away more of its rows', () => {
    const owners = initialSlots(2);
    const perShard = new Map([
      [0, 200_000],
      [1, 100_000],
    ]);
    const after = apply(owners, planRebalance({ owners, shards: [0, 1, 2], rows: { perShard } }));
    expect(counts(after, [0, 1, 2])).toEqual([1366, 1365, 1365]);
    const perSlot = Array.from(owners, (o) => perShard.get(o)! / 2048);
    const rows = rowsOf(after, perSlot, [0, 1, 2]);
    for (const r of rows) expect(Math.abs(r - 100_000)).toBeLessThanOrEqual(10_000);
  });
});
