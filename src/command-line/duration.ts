import { InvalidInputError } from '../errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * The one grammar for durations on the command line (`bench --duration`,
 * `bench oracle --duration`, `oracle --lease`, ...): `500ms`, `20s`, `1.5s`,
 * `2m`, `1h`, or a bare number of seconds (`20`, `0.5`).
 */
export function parseDurationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new InvalidInputError(`expected a duration like 20s, 500ms or 2m (a bare number is seconds), got '${text}'`);
  return Number(match[1]) * UNITS[match[2] ?? 's']!;
}

/** parseDurationMs for a named flag: the error names it (`--duration: expected ...`). */
export function parseDurationFlagMs(flag: string, text: string): number {
  try {
    return parseDurationMs(text);
  } catch (error) {
    if (error instanceof InvalidInputError) throw new InvalidInputError(`${flag}: ${error.message}`);
    throw error;
  }
}
