import { InvalidInputError } from '../errors.js';

/** Delays between attempts of a transaction that failed with a retryable error. */
export interface RetryBackoff {
  /** Upper bound of the first delay in ms (default 5). */
  initialMs?: number;
  /** Upper bound of any delay in ms (default 500). */
  maxMs?: number;
}

/**
 * @internal "Full jitter" exponential backoff: a uniform random delay below
 * min(maxMs, initialMs * 2^attempt). Random spreading is what lets two
 * transactions that keep colliding on one row stop colliding.
 */
export function backoffDelayMs(attempt: number, backoff: Required<RetryBackoff>, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** attempt);
  return random() * ceiling;
}

/** @internal Fills in defaults and checks the numbers. */
export function resolveBackoff(backoff: RetryBackoff | undefined): Required<RetryBackoff> {
  const resolved = { initialMs: backoff?.initialMs ?? 5, maxMs: backoff?.maxMs ?? 500 };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isFinite(value) || value < 0) throw new InvalidInputError(`retryBackoff.${name} must be a non-negative number of ms, got ${String(value)}`);
  }
  return resolved;
}
