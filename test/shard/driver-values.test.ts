import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prepareValue, toParameter } from '../../src/shard/driver-values.js';

describe('toParameter', () => {
  it('writes text arrays exactly as node-postgres would', () => {
    const element = fc.oneof(fc.constant(null), fc.string({ unit: 'binary' }), fc.constantFrom('', 'NULL', '"', '\\', '{a,b}', ' x ', '\\"'));
    fc.assert(
      fc.property(fc.array(element, { maxLength: 20 }), (values) => {
        expect(toParameter(values)).toBe(prepareValue(values));
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves everything else to node-postgres', () => {
    for (const value of [null, 'x', 12, 12n, [1, 2], [['a'], ['b']], ['a', 3], Buffer.from('ab'), new Date(0), { a: 1 }]) {
      expect(toParameter(value)).toEqual(prepareValue(value));
    }
  });
});
