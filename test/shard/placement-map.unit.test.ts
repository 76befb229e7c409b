import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/errors.js';
import { decodeSlots, encodeSlots, initialSlots, PlacementMap, SLOT_COUNT } from '../../src/shard/placement-map.js';
import { shardOfTexts, slotOfTexts } from '../../src/shard/shard-of.js';

describe('placement map', () => {
  it('starts with slot s on shard s mod n, which is where shardOfTexts places keys', () => {
    const map = PlacementMap.initial('c', ['a', 'b', 'c']);
    expect(map.version).toBe(1n);
    expect([...map.slots.slice(0, 7)]).toEqual([0, 1, 2, 0, 1, 2, 0]);
    for (const id of ['1', '42', 'x', '2024-03-05T00:00:00.000Z']) expect(map.shardOfSlot(slotOfTexts([id]))).toBe(shardOfTexts([id], 3));
    expect([...map.slotsByShard().values()].map((slots) => slots.length)).toEqual([1366, 1365, 1365]);
  });

  it('round-trips its slots through 2 bytes per slot', () => {
    const slots = initialSlots(7);
    slots[5] = 300;
    const bytes = encodeSlots(slots);
    expect(bytes.length).toBe(SLOT_COUNT * 2);
    expect(decodeSlots(bytes)).toEqual(slots);
    expect(() => decodeSlots(bytes.slice(1))).toThrow(InvalidInputError);
  });

  it('refuses a map that assigns a slot to a shard it does not list', () => {
    expect(() => new PlacementMap('c', 2n, [{ id: 0, url: 'a' }], initialSlots(2))).toThrow(InvalidInputError);
  });
});
