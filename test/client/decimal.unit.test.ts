import { describe, expect, it } from 'vitest';
import { addDecimals, divideDecimals, formatDecimal, parseDecimal } from '../../src/client/decimal.js';

const d = (text: string) => parseDecimal(text)!;

describe('decimal arithmetic for combining partial aggregates', () => {
  it('adds exactly, keeping the larger scale (as numeric sums do)', () => {
    expect(formatDecimal(addDecimals(d('1.50'), d('-0.7')))).toBe('0.80');
    expect(formatDecimal(addDecimals(d('9007199254740993'), d('1')))).toBe('9007199254740994');
    expect(formatDecimal(addDecimals(d('-3'), d('1')))).toBe('-2');
  });

  it('divides with the scale and rounding of Postgres numeric_div (outputs of select x::numeric / y)', () => {
    const cases: [string, string, string][] = [
      ['3', '2', '1.5000000000000000'],
      ['30', '2', '15.0000000000000000'],
      ['1.50', '2', '0.75000000000000000000'],
      ['1', '3', '0.33333333333333333333'],
      ['2', '3', '0.66666666666666666667'],
      ['-2', '3', '-0.66666666666666666667'],
      ['100000', '7', '14285.714285714286'],
      ['0', '5', '0.00000000000000000000'],
    ];
    for (const [a, b, quotient] of cases) expect(formatDecimal(divideDecimals(d(a), d(b))), `${a} / ${b}`).toBe(quotient);
  });

  it('parses only plain decimals', () => {
    expect(parseDecimal('1e5')).toBeUndefined();
    expect(parseDecimal('NaN')).toBeUndefined();
    expect(parseDecimal('.5')).toEqual({ unscaled: 5n, scale: 1 });
  });
});
