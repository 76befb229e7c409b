import type { Timestamp } from '../timestamp.js';

/**
 * What lock resolution learns about a transaction from its primary key:
 * committed at a timestamp, rolled back, or still alive (its primary lock
 * exists and its TTL has not run out).
 */
export type TxnStatus =
  | { readonly kind: 'committed'; readonly commitTs: Timestamp }
  | { readonly kind: 'rolled-back' }
  | { readonly kind: 'alive'; readonly ttlRemainingMs: number };

/** Final statuses never change; they may be cached. */
export function isFinal(status: TxnStatus): boolean {
  return status.kind === 'committed' || status.kind === 'rolled-back';
}
