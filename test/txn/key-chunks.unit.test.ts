import { describe, expect, it } from 'vitest';
import { keyChunks } from '../../src/txn/table-chunks.js';

describe('keyChunks', () => {
  const keys = (n: number, width = 1) => Array.from({ length: n }, (_, i) => ({ keyTexts: [String(i).padStart(width, '0')] }));

  it('caps chunks by keys, keeping every key once and in order', () => {
    const chunks = keyChunks(keys(12_001), { rows: 5000, bytes: 1 << 30 });
    expect(chunks.map((c) => c.length)).toEqual([5000, 5000, 2001]);
    expect(chunks.flat().map((k) => k.keyTexts[0])).toEqual(keys(12_001).map((k) => k.keyTexts[0]));
  });

  it('caps chunks by bytes; a single larger key still goes, alone', () => {
    expect(keyChunks(keys(10, 96), { rows: 5000, bytes: 300 }).map((c) => c.length)).toEqual([3, 3, 3, 1]);
    expect(keyChunks(keys(2, 1000), { rows: 5000, bytes: 300 }).map((c) => c.length)).toEqual([1, 1]);
    expect(keyChunks([], { rows: 5000, bytes: 300 })).toEqual([]);
  });
});
