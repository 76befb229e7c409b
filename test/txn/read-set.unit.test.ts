import { describe, expect, it } from 'vitest';
import { ReadSet } from '../../src/txn/read-set.js';

describe('ReadSet', () => {
  it('records each key of a table once, the first read kept (its readTs is what validation checks from)', () => {
    const set = new ReadSet(1n);
    set.addKey({ table: 'a', keyTexts: ['1'], shard: 0 });
    set.addKey({ table: 'a', keyTexts: ['1'], shard: 0, readTs: 9n });
    set.addKey({ table: 'a', keyTexts: ['2'], shard: 1 });
    expect(set.keys).toEqual([
      { table: 'a', keyTexts: ['1'], shard: 0 },
      { table: 'a', keyTexts: ['2'], shard: 1 },
    ]);
  });

  it('tells apart tables, null from its spellings, and multi-column keys whose joined texts agree', () => {
    const set = new ReadSet(1n);
    const keys = [
      { table: 'a', keyTexts: ['1'], shard: 0 },
      { table: 'b', keyTexts: ['1'], shard: 0 },
      { table: 'a', keyTexts: [null], shard: 0 },
      { table: 'a', keyTexts: ['null'], shard: 0 },
      { table: 'a', keyTexts: [''], shard: 0 },
      { table: 'c', keyTexts: ['1', '2,3'], shard: 0 },
      { table: 'c', keyTexts: ['1,2', '3'], shard: 0 },
      { table: 'c', keyTexts: ['1', null], shard: 0 },
      { table: 'c', keyTexts: ['1', 'null'], shard: 0 },
    ];
    for (const key of keys) set.addKey(key);
    for (const key of keys) set.addKey({ ...key, shard: 2 });
    expect(set.keys).toEqual(keys);
    expect(set.empty).toBe(false);
  });
});
