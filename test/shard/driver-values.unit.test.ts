import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prepareValue, toParameter } from '../../src/shard/driver-values.js';

describe('toParameter', () => {
  it('writes text arrays exactly as node-postgres would', () => {
    const element = fc.oneof(fc.constant(null), fc.constant(undefined), fc.string({ unit: 'binary' }), fc.constantFrom('', 'NULL', '"', '\\', '{a,b}', ' x ', '\\"', '$&'));
    fc.assert(
      fc.property(fc.sparseArray(element, { maxLength: 20 }), (values) => {
        expect(toParameter(values)).toBe(prepareValue(values));
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves everything else to node-postgres', () => {
    const mixed = [['a', 3], ['a', 1n], ['a', Buffer.from('ab')], ['a', new Date(0)], ['a', ['b']]];
    for (const value of [null, 'x', 12, 12n, [], [1, 2], [['a'], ['b']], ...mixed, Buffer.from('ab'), new Date(0), { a: 1 }]) {
      expect(toParameter(value)).toEqual(prepareValue(value));
    }
  });
});
