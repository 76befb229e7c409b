import { InvalidInputError } from '../errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `250ms`, `3s`, `1.5s`, `2m`; a bare number is milliseconds. */
export function parseDurationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new InvalidInputError(`expected a duration like 500ms, 3s or 1m, got '${text}'`);
  return Number(match[1]) * UNITS[match[2] ?? 'ms']!;
}
