import { describe, expect, it } from 'vitest';
import { parseDurationMs } from '../../src/command-line/duration.js';
import { InvalidInputError } from '../../src/errors.js';

/** One grammar for every duration flag of the CLI (bench, bench oracle, oracle). */
describe('duration grammar', () => {
  it.each([
    ['20', 20_000],
    ['0.5', 500],
    ['20s', 20_000],
    ['1.5s', 1_500],
    ['500ms', 500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    [' 3s ', 3_000],
  ])('%j is %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['', 's', '-1s', '1d', '1 s', 'ten', '1e3'])('refuses %j', (text) => {
    expect(() => parseDurationMs(text)).toThrow(InvalidInputError);
    expect(() => parseDurationMs(text)).toThrow(/expected a duration like 20s, 500ms or 2m/);
  });
});
