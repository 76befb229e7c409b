/**
 * Failures that happened before any byte of a statement was written: no
 * connection could be had for it (refused, no primary among a shard's
 * hosts, the pool's wait ran out), or it waited unsent past its deadline,
 * or the `begin` of its local transaction failed. Their outcome is known
 * (the statement did not run), which matters for commitPrimary: such a
 * failure is a definite abort, not CommitUndeterminedError. The mark is a
 * symbol on the error object, so the error itself (its class, SQLSTATE and
 * message, what translateShardError reads) is unchanged.
 */
const NOT_SENT = Symbol('pg-percolator.statementNotSent');

/** Marks `error` as a failure before the statement was sent; returns it. */
export function markNotSent<E>(error: E): E {
  if (error !== null && typeof error === 'object') (error as Record<symbol, unknown>)[NOT_SENT] = true;
  return error;
}

/** True when `error`, or an error it wraps (`cause`), was marked by markNotSent: the statement did not run. */
export function wasNotSent(error: unknown): boolean {
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as Record<symbol, unknown>)[NOT_SENT] === true) return true;
  }
  return false;
}
