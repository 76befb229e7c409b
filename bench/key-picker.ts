import type { KeyDistribution } from './key-distribution.js';
import type { Random } from './random.js';

/** Which shard holds the row with this id (the placement every system of a run shares). */
export type ShardOf = (id: number) => number;

const MAX_DRAWS = 10_000;

/**
 * Picks the keys of one transaction. With `crossShardFraction` undefined the
 * keys are drawn independently (with 3 shards about 2/3 of two-key
 * transactions then span two shards); with a fraction f, a share f of
 * multi-key transactions is forced to span at least two shards and the rest
 * to stay on one shard, by redrawing from the same key distribution.
 */
export class KeyPicker {
  constructor(
    readonly distribution: KeyDistribution,
    readonly shardOf: ShardOf,
    readonly shardCount: number,
    readonly crossShardFraction: number | undefined,
  ) {}

  pick(random: Random, count: number): number[] {
    const first = this.distribution.next(random);
    const keys = [first];
    if (count <= 1) return keys;
    const home = this.shardOf(first);
    const mode =
      this.crossShardFraction === undefined || this.shardCount < 2
        ? 'any'
        : random.next() < this.crossShardFraction
          ? 'cross'
          : 'single';
    while (keys.length < Math.min(count, this.distribution.keys)) {
      const wanted = (id: number): boolean => {
        if (keys.includes(id)) return false;
        if (mode === 'single') return this.shardOf(id) === home;
        if (mode === 'cross' && keys.length === 1) return this.shardOf(id) !== home;
        return true;
      };
      let id = this.distribution.next(random);
      for (let draws = 0; !wanted(id) && draws < MAX_DRAWS; draws++) id = this.distribution.next(random);
      // A tiny key space may have no key that fits: fall back to any unused key.
      if (!wanted(id)) id = this.anyUnused(keys, random);
      keys.push(id);
    }
    return keys;
  }

  private anyUnused(used: number[], random: Random): number {
    for (;;) {
      const id = random.int(this.distribution.keys);
      if (!used.includes(id)) return id;
    }
  }
}
