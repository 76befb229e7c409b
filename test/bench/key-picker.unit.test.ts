import { describe, expect, it } from 'vitest';
import { keyDistribution } from '../../bench/key-distribution.js';
import { KeyPicker } from '../../bench/key-picker.js';
import { accountsTable } from '../../bench/bench-table.js';
import { placementOf } from '../../bench/placement.js';
import { seededRandom } from '../../bench/random.js';

describe('key choice', () => {
  const shardOf = placementOf(accountsTable('accounts'), 3);

  it('is repeatable for a seed and differs between seeds', () => {
    const picker = new KeyPicker(keyDistribution(1000, 0), shardOf, 3, undefined);
    const draw = (seed: number): number[][] => {
      const random = seededRandom(seed, 1);
      return Array.from({ length: 50 }, () => picker.pick(random, 2));
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });

  it('honours --cross-shard-fraction', () => {
    for (const fraction of [0, 0.3, 1]) {
      const picker = new KeyPicker(keyDistribution(1000, 0.99), shardOf, 3, fraction);
      const random = seededRandom(7, 1);
      let cross = 0;
      for (let i = 0; i < 2000; i++) {
        const [a, b] = picker.pick(random, 2) as [number, number];
        expect(a).not.toBe(b);
        if (shardOf(a) !== shardOf(b)) cross++;
      }
      expect(cross / 2000).toBeCloseTo(fraction, 1);
    }
  });

  it('Zipfian 0.99 makes the first keys hot; uniform does not', () => {
    const count = (theta: number): number => {
      const d = keyDistribution(1000, theta);
      const random = seededRandom(1, 1);
      let hot = 0;
      for (let i = 0; i < 10_000; i++) if (d.next(random) < 10) hot++;
      return hot / 10_000;
    };
    expect(count(0)).toBeLessThan(0.02);
    expect(count(0.99)).toBeGreaterThan(0.3);
  });
});
