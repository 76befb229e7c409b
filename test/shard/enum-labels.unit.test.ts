import { describe, expect, it } from 'vitest';
import { labelAdditions } from '../../src/shard/enum-type-ddl.js';

describe('labelAdditions', () => {
  it('places each new label before the next kept one, or after the one before it', () => {
    expect(labelAdditions(['a', 'c'], ['a', 'b1', 'b2', 'c'])).toEqual([
      { label: 'b1', place: " before 'c'" },
      { label: 'b2', place: " before 'c'" },
    ]);
    expect(labelAdditions(['a'], ['a', 'b', 'c'])).toEqual([
      { label: 'b', place: " after 'a'" },
      { label: 'c', place: " after 'b'" },
    ]);
    expect(labelAdditions(['c'], ["it's", 'c'])).toEqual([{ label: "it's", place: " before 'c'" }]);
    expect(labelAdditions(['a', 'b'], ['a', 'b'])).toEqual([]);
  });

  it('refuses a removed or reordered label', () => {
    expect(labelAdditions(['a', 'b'], ['a'])).toBeUndefined();
    expect(labelAdditions(['a', 'b'], ['b', 'a'])).toBeUndefined();
    expect(labelAdditions(['a', 'b'], ['a', 'x', 'b', 'a'])).toBeUndefined();
  });
});
