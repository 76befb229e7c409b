/**
 * Timestamps are 64-bit `physical_ms << 18 | logical` (the TiKV/PD layout):
 * the physical part is the oracle's wall clock in milliseconds, the logical
 * part counts within one millisecond. In TypeScript a timestamp is a bigint,
 * in Postgres a `bigint` column (they fit: ms since 1970 < 2^45).
 */
export type Timestamp = bigint;

export const LOGICAL_BITS = 18n;
export const MAX_LOGICAL = (1n << LOGICAL_BITS) - 1n;

export function composeTimestamp(physicalMs: number | bigint, logical: number | bigint = 0): Timestamp {
  const l = BigInt(logical);
  if (l < 0n || l > MAX_LOGICAL) throw new RangeError(`logical part ${l} out of range 0..${MAX_LOGICAL}`);
  return (BigInt(physicalMs) << LOGICAL_BITS) | l;
}

export function physicalMs(ts: Timestamp): number {
  return Number(ts >> LOGICAL_BITS);
}

export function logicalPart(ts: Timestamp): number {
  return Number(ts & MAX_LOGICAL);
}

/** Readable form for logs and errors: `1764130000123.42`. */
export function formatTimestamp(ts: Timestamp): string {
  return `${physicalMs(ts)}.${logicalPart(ts)}`;
}
