import { MAX_LOGICAL } from '../timestamp.js';

/**
 * Trailer on an oracle's UNAVAILABLE answers: the leader's address (empty if
 * unknown), so that clients redirect without guessing and can tell "an oracle
 * answered, it is not the leader" from "nothing answered".
 */
export const LEADER_TRAILER = 'percolator-oracle-leader';

/**
 * Sent with a non-empty LEADER_TRAILER: the fencing epoch of the leader
 * named. A client that has already seen a higher epoch ignores the hint.
 */
export const LEADER_EPOCH_TRAILER = 'percolator-oracle-leader-epoch';

/** A range must fit in one millisecond's logical space (the allocator moves to the next ms, never splits). */
export const HARD_MAX_COUNT = Number(MAX_LOGICAL) + 1;

/** The server's default cap on one request's count; clients split larger batches. */
export const DEFAULT_MAX_COUNT = 100_000;
