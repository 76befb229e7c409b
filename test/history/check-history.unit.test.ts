import { describe, expect, it } from 'vitest';
import { anomalyTypes, analyzeHistory, checkHistory } from './check-history.js';
import { classifyCycle } from './cycle-search.js';
import { append, fail, finalRead, info, ok, read, type History } from './history.js';

/** Hand-made histories, each built around one anomaly: the checker must name it (and only what else is truly there). */
const anomalous: Record<string, { history: History; expect: string[]; snapshotAllows?: boolean }> = {
  'G0 dirty write: two writers interleave on x and y': {
    history: [
      ok(1, append('x', 1), append('y', 1)),
      ok(2, append('x', 2), append('y', 2)),
      ok(3, read('x', [1, 2]), read('y', [2, 1])),
    ],
    expect: ['G0'],
  },
  'G1a aborted read': {
    history: [fail(1, append('x', 1)), ok(2, read('x', [1]))],
    expect: ['G1a'],
  },
  'G1b intermediate read': {
    history: [ok(1, append('x', 1), append('x', 2)), ok(2, read('x', [1]))],
    expect: ['G1b'],
  },
  'G1c circular information flow': {
    history: [ok(1, append('x', 1), read('y', [2])), ok(2, append('y', 2), read('x', [1]))],
    expect: ['G1c'],
  },
  'G-single read skew': {
    history: [
      ok(0, append('x', 0), append('y', 0)),
      ok(1, read('x', [0]), read('y', [0, 1])),
      ok(2, append('x', 1), append('y', 1)),
      ok(3, read('x', [0, 1]), read('y', [0, 1])),
    ],
    expect: ['G-single'],
  },
  'G-single lost update (P4)': {
    history: [
      ok(0, append('x', 0)),
      ok(1, read('x', [0]), append('x', 1)),
      ok(2, read('x', [0]), append('x', 2)),
      ok(3, read('x', [0, 1, 2])),
    ],
    expect: ['G-single'],
  },
  'G-nonadjacent: two rw edges separated by wr edges': {
    history: [
      ok(1, read('a', []), read('d', [4])),
      ok(2, append('a', 2), append('b', 2)),
      ok(3, read('b', [2]), read('c', [])),
      ok(4, append('c', 4), append('d', 4)),
      ok(5, read('a', [2]), read('c', [4])),
    ],
    expect: ['G-nonadjacent'],
  },
  'G2-item write skew': {
    history: [
      ok(0, append('x', 0), append('y', 0)),
      ok(1, read('x', [0]), read('y', [0]), append('x', 1)),
      ok(2, read('x', [0]), read('y', [0]), append('y', 2)),
      ok(3, read('x', [0, 1]), read('y', [0, 2])),
    ],
    expect: ['G2-item'],
    snapshotAllows: true,
  },
  'G2-item read-only anomaly (Fekete): read-only T3 sees T2 but not T1, which T2 must follow': {
    history: [
      ok(0, append('x', 0), append('y', 0)),
      ok(1, read('x', [0]), read('y', [0]), append('x', 1)),
      ok(2, append('y', 2)),
      ok(3, read('x', [0]), read('y', [0, 2])),
      ok(4, read('x', [0, 1]), read('y', [0, 2])),
    ],
    expect: ['G2-item'],
    snapshotAllows: true,
  },
  'internal: a transaction does not see its own append': {
    history: [ok(1, append('x', 1)), ok(2, read('x', [1]), append('x', 2), read('x', [1]))],
    expect: ['internal'],
  },
  'internal: a read changes under the transaction (which also makes T2 both precede and follow T1)': {
    history: [ok(1, append('x', 1)), ok(2, read('x', []), read('x', [1]))],
    expect: ['G-single', 'internal'],
  },
  'duplicate elements in a read': {
    history: [ok(1, append('x', 1)), ok(2, read('x', [1, 1]))],
    expect: ['duplicate-elements'],
  },
  'garbage read': {
    history: [ok(1, read('x', [9]))],
    expect: ['garbage-read'],
  },
  'duplicate append: the workload is broken': {
    history: [ok(1, append('x', 1)), ok(2, append('x', 1))],
    expect: ['duplicate-append'],
  },
  'incompatible order: an append vanished from a later read': {
    history: [ok(1, append('x', 1)), ok(2, append('x', 2)), ok(3, read('x', [1, 2])), ok(4, read('x', [2]))],
    expect: ['incompatible-order'],
  },
  'lost append: a final read misses a committed append': {
    history: [ok(1, append('x', 1)), ok(2, append('x', 2)), finalRead(3, read('x', [2]))],
    expect: ['lost-append'],
  },
};

describe('history checker on hand-made anomalies', () => {
  it.each(Object.entries(anomalous))('%s', (_name, { history, expect: expected, snapshotAllows }) => {
    const { anomalies } = analyzeHistory(history);
    expect(anomalyTypes(anomalies)).toEqual(expected);
    expect(checkHistory(history, 'serializable').valid).toBe(false);
    expect(checkHistory(history, 'snapshot').valid).toBe(snapshotAllows ?? false);
  });

  it('names the transactions and keys of a cycle', () => {
    const [anomaly] = analyzeHistory(anomalous['G1c circular information flow']!.history).anomalies;
    expect(anomaly?.description).toMatch(/T1 -wr\(x\)-> T2 -wr\(y\)-> T1|T2 -wr\(y\)-> T1 -wr\(x\)-> T2/);
    expect([...(anomaly?.txns ?? [])].sort()).toEqual([1, 2]);
  });

  it('finds anomalies in separate components of one history', () => {
    const history: History = [
      ...anomalous['G1c circular information flow']!.history,
      ok(10, append('p', 10), append('q', 10)),
      ok(11, append('p', 11), append('q', 11)),
      ok(12, read('p', [10, 11]), read('q', [11, 10])),
    ];
    expect(anomalyTypes(analyzeHistory(history).anomalies)).toEqual(['G0', 'G1c']);
  });
});

describe('history checker on clean histories', () => {
  const clean: Record<string, History> = {
    empty: [],
    'serial appends and reads': [
      ok(1, append('x', 1), read('y', [])),
      ok(2, read('x', [1]), append('x', 2), read('x', [1, 2])),
      ok(3, read('x', [1, 2]), append('y', 3)),
      finalRead(4, read('x', [1, 2]), read('y', [3])),
    ],
    'concurrent disjoint writers and a later reader': [
      ok(1, read('x', []), append('x', 1)),
      ok(2, read('y', []), append('y', 2)),
      ok(3, read('x', [1]), read('y', [2])),
    ],
    'aborted appends are never read': [
      ok(1, append('x', 1)),
      fail(2, append('x', 2), read('x', [1, 2])),
      ok(3, read('x', [1])),
      finalRead(4, read('x', [1])),
    ],
    'an info transaction that committed (its append was read)': [
      info(1, append('x', 1)),
      ok(2, read('x', [1]), append('x', 2)),
      finalRead(3, read('x', [1, 2])),
    ],
    'an info transaction that did not commit': [info(1, append('x', 1)), ok(2, read('x', [])), finalRead(3, read('x', []))],
    'reads of failed and info transactions are not trusted': [
      fail(1, read('x', [7, 7])),
      info(2, read('x', [42])),
      ok(3, read('x', [])),
    ],
  };
  it.each(Object.entries(clean))('%s', (_name, history) => {
    expect(analyzeHistory(history).anomalies).toEqual([]);
    expect(checkHistory(history, 'serializable').valid).toBe(true);
  });
});

describe('cycle classification', () => {
  const s = (kind: 'ww' | 'wr' | 'rw', from: number, to: number) => ({ from, to, kind, key: 'k' });
  it('counts rw edges and their adjacency, wrapping around', () => {
    expect(classifyCycle([s('ww', 1, 2), s('ww', 2, 1)])).toBe('G0');
    expect(classifyCycle([s('ww', 1, 2), s('wr', 2, 1)])).toBe('G1c');
    expect(classifyCycle([s('rw', 1, 2), s('wr', 2, 1)])).toBe('G-single');
    expect(classifyCycle([s('rw', 1, 2), s('rw', 2, 1)])).toBe('G2-item');
    expect(classifyCycle([s('rw', 1, 2), s('wr', 2, 3), s('rw', 3, 1)])).toBe('G2-item');
    expect(classifyCycle([s('rw', 1, 2), s('wr', 2, 3), s('rw', 3, 4), s('ww', 4, 1)])).toBe('G-nonadjacent');
  });
});
