import { InvalidInputError } from '../errors.js';

/** @internal A limit or offset: a non-negative safe integer, or undefined. */
export function checkCount(value: number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidInputError(`${name} must be a non-negative integer, got ${String(value)}`);
  return value;
}
