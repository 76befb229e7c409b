/**
 * The error catalogue. Every error the library throws on purpose is a
 * `PercolatorError` with a stable `code` and a `retryable` flag: retryable
 * errors mean "nothing of this attempt was committed; running the whole
 * transaction again may succeed". `db.transaction` retries exactly those.
 */
import { formatTimestamp, type Timestamp } from './timestamp.js';

export abstract class PercolatorError extends Error {
  abstract readonly code: string;
  abstract readonly retryable: boolean;
  /** Postgres's SQLSTATE when a shard's error is behind this one (its driver error is `cause`). */
  readonly sqlState?: string;

  constructor(message: string, options?: PercolatorErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options?.sqlState !== undefined) this.sqlState = options.sqlState;
  }
}

/** What a catalogue error may carry besides its message. */
export interface PercolatorErrorOptions {
  cause?: unknown;
  /** Postgres's SQLSTATE, when the error is a shard's. */
  sqlState?: string;
}

/** No oracle leader answered within the deadline. Nothing was written. */
export class OracleUnavailableError extends PercolatorError {
  readonly code = 'ORACLE_UNAVAILABLE';
  readonly retryable = true;
}

/**
 * Every oracle address refused the connection: nothing listens there (the
 * oracle is not started, or is restarting). Reported at once instead of
 * waiting out the deadline; retryable like any OracleUnavailableError.
 */
export class OracleConnectionRefusedError extends OracleUnavailableError {
  constructor(readonly addresses: readonly string[], options?: { cause?: unknown }) {
    super(`connection refused by every oracle address (${addresses.join(', ')}): no oracle is listening there`, options);
  }
}

/**
 * The oracle process asked is not the leader (or its lease may have run out).
 * Clients follow `leaderAddress` when it is known. Nothing was handed out.
 */
export class OracleNotLeaderError extends PercolatorError {
  readonly code = 'ORACLE_NOT_LEADER';
  readonly retryable = true;
  constructor(
    readonly leaderAddress: string | undefined,
    reason: string,
    /** Fencing epoch of the leader named (clients ignore a leader older than one they have seen). */
    readonly leaderEpoch?: bigint,
  ) {
    super(`not the oracle leader (${reason})${leaderAddress ? `; the leader is at ${leaderAddress}` : '; leader unknown'}`);
  }
}

/** The oracle refused the request itself (bad count, missing or wrong token, TLS refused): retrying cannot help. */
export class OracleRequestRejectedError extends PercolatorError {
  readonly code = 'ORACLE_REQUEST_REJECTED';
  readonly retryable = false;
}

/** Another transaction wrote (or is writing) a key this one wants to write. */
export class WriteConflictError extends PercolatorError {
  readonly code = 'WRITE_CONFLICT';
  readonly retryable = true;
  constructor(
    readonly table: string,
    readonly key: unknown,
    readonly startTs: Timestamp,
    /** Commit ts of the conflicting version, or the start ts of a conflicting lock. */
    readonly conflictTs: Timestamp,
    readonly reason: 'newer-version' | 'locked' | 'rolled-back',
  ) {
    super(
      `write conflict on ${table} key ${JSON.stringify(key, bigintJson)}: ${reason} at ${formatTimestamp(conflictTs)} (txn start ${formatTimestamp(startTs)})`,
    );
  }
}

/** A lock held by a live transaction did not go away before the deadline. */
export class LockWaitTimeoutError extends PercolatorError {
  readonly code = 'LOCK_WAIT_TIMEOUT';
  readonly retryable = true;
  constructor(
    readonly table: string,
    readonly key: unknown,
    readonly lockStartTs: Timestamp,
    readonly waitedMs: number,
  ) {
    super(`lock on ${table} key ${JSON.stringify(key, bigintJson)} held by txn ${formatTimestamp(lockStartTs)} still alive after ${waitedMs} ms`);
  }
}

/**
 * The transaction reads at a timestamp below a shard's GC safe point: the
 * versions it would need may be gone (its start is older than the GC
 * lifetime, `gc.lifetimeMs`). A retry starts at a new timestamp.
 */
export class SnapshotTooOldError extends PercolatorError {
  readonly code = 'SNAPSHOT_TOO_OLD';
  readonly retryable = true;
  constructor(
    readonly readTs: Timestamp,
    readonly safePoint: Timestamp,
    readonly shard: string,
  ) {
    super(`snapshot ${formatTimestamp(readTs)} is older than the GC safe point ${formatTimestamp(safePoint)} of shard ${shard}: raise gc.lifetimeMs for transactions this long`);
  }
}

/** Two transactions waiting on each other's locking reads; this one was chosen to fail. */
export class DeadlockError extends PercolatorError {
  readonly code = 'DEADLOCK';
  readonly retryable = true;
}

/** Serializable mode: something this transaction read changed before it could commit. */
export class SerializationError extends PercolatorError {
  readonly code = 'SERIALIZATION_FAILURE';
  readonly retryable = true;
}

/**
 * The transaction was rolled back by somebody else (its primary lock was
 * resolved after its TTL ran out) before it could commit. Nothing is visible.
 */
export class TransactionAbortedError extends PercolatorError {
  readonly code = 'TRANSACTION_ABORTED';
  readonly retryable = true;
}

/**
 * The transaction ran longer than `maxTransactionMs`: its locking reads'
 * locks were released when the time ran out (so that a hung callback
 * cannot hold rows, or the GC safe point, for ever), and it can only be
 * rolled back. Nothing of it was committed. Not retried: running the same
 * work again would likely take as long.
 */
export class TransactionTimeoutError extends PercolatorError {
  readonly code = 'TRANSACTION_TIMEOUT';
  readonly retryable = false;
}

/**
 * The client could not learn whether the commit point was reached (for
 * example the primary's shard went away while committing). The transaction
 * may or may not be committed; it is never retried blindly.
 */
export class CommitUndeterminedError extends PercolatorError {
  readonly code = 'COMMIT_UNDETERMINED';
  readonly retryable = false;
  constructor(message: string, readonly startTs: Timestamp, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Insert of a primary key that already exists, or a write of a value that a
 * unique constraint (`constraint`: its name) already holds for another row.
 * `key` is the primary key, or the constrained columns' values.
 */
export class UniqueViolationError extends PercolatorError {
  readonly code = 'UNIQUE_VIOLATION';
  readonly retryable = false;
  constructor(
    readonly table: string,
    readonly key: unknown,
    readonly constraint?: string,
  ) {
    super(
      constraint === undefined
        ? `duplicate key in ${table}: ${JSON.stringify(key, bigintJson)} already exists`
        : `duplicate key value violates unique constraint "${constraint}" of ${table}: ${JSON.stringify(key, bigintJson)} already exists`,
    );
  }
}

/** A serial or identity column handed out every value up to its maximum (its type's, or the sequence's maxValue). */
export class SequenceExhaustedError extends PercolatorError {
  readonly code = 'SEQUENCE_EXHAUSTED';
  readonly retryable = false;
  constructor(readonly sequence: string, readonly max: bigint) {
    super(`sequence of ${sequence} reached its maximum value ${max}`);
  }
}

/** A shard could not be reached or failed mid-statement with a connection error. */
export class ShardUnavailableError extends PercolatorError {
  readonly code = 'SHARD_UNAVAILABLE';
  readonly retryable = true;
  constructor(readonly shard: string, options?: PercolatorErrorOptions) {
    const why = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`shard ${shard} unavailable${why}`, options);
  }
}

/**
 * A shard refused a write for a slot it does not own (any more, or not
 * yet): this client's placement map is older than the shard's, or the slot
 * is being moved. Internal: the client reads the map again and runs the
 * transaction again without counting it against maxRetries; it reaches the
 * caller only if the placement keeps changing under it.
 */
export class PlacementChangedError extends PercolatorError {
  readonly code = 'PLACEMENT_CHANGED';
  readonly retryable = true;
  constructor(readonly shard: string, message: string, options?: PercolatorErrorOptions) {
    super(message, options);
  }
}

/**
 * A slot move (moveSlots) could not complete and was rolled back: the
 * source still owns the slots, the destination holds none of their rows.
 * Retryable: run the move again (e.g. after long transactions in the
 * slots ended).
 */
export class SlotMoveError extends PercolatorError {
  readonly code = 'SLOT_MOVE_FAILED';
  readonly retryable = true;
}

/**
 * Another change of the cluster's placement (adding, removing or
 * rebalancing shards) is running: they run one at a time. Retryable once
 * it has ended.
 */
export class PlacementChangeInProgressError extends PercolatorError {
  readonly code = 'PLACEMENT_CHANGE_IN_PROGRESS';
  readonly retryable = true;
}

/**
 * A shard refused a statement for a reason no other error of the catalogue
 * describes (`sqlState` says which; `cause` is the driver's error).
 * Retryable when Postgres aborted the statement because of a concurrent one
 * (SQLSTATE class 40, lock_timeout): nothing of it took effect.
 */
export class ShardStatementError extends PercolatorError {
  readonly code = 'SHARD_STATEMENT_FAILED';
  readonly retryable: boolean;
  constructor(readonly shard: string, message: string, options: PercolatorErrorOptions & { retryable: boolean }) {
    super(message, options);
    this.retryable = options.retryable;
  }
}

/** The schema given does not fit: unknown table, no primary key, bad shard key, storage not migrated or different from the declaration. */
export class SchemaError extends PercolatorError {
  readonly code = 'SCHEMA_ERROR';
  readonly retryable = false;
}

/**
 * A shard refused a write because this client's declaration of the table is
 * not the one the shards store: an older schema version (a column added or
 * dropped, an index added or dropped since), or an index it does not
 * declare. A writer of the old shape would drop a new column's values or
 * corrupt an index. Nothing was written. Reads keep working. Not retryable:
 * roll out the new declaration (migrate() first, then the new code).
 * `table`, `clientVersion` and `storedVersion` say which table and which
 * versions, when the shard's fence knew them (`clientVersion` undefined: a
 * declaration never migrated there).
 */
export class SchemaVersionError extends PercolatorError {
  readonly code = 'SCHEMA_VERSION';
  readonly retryable = false;
  readonly table?: string;
  readonly clientVersion?: number;
  readonly storedVersion?: number;

  constructor(message: string, options?: PercolatorErrorOptions & { table?: string; clientVersion?: number; storedVersion?: number }) {
    super(message, options);
    if (options?.table !== undefined) this.table = options.table;
    if (options?.clientVersion !== undefined) this.clientVersion = options.clientVersion;
    if (options?.storedVersion !== undefined) this.storedVersion = options.storedVersion;
  }
}

/**
 * The package's own files are missing or do not fit its code (package.json,
 * schema/, or a placeholder a schema file uses): a broken or partial
 * installation, which neither a retry nor other input can mend.
 */
export class InstallationError extends PercolatorError {
  readonly code = 'INSTALLATION_BROKEN';
  readonly retryable = false;
}

/** Bad input caught before anything was written: unknown column, wrong type, oversized row, bad filter. */
export class InvalidInputError extends PercolatorError {
  readonly code = 'INVALID_INPUT';
  readonly retryable = false;
}

/** A transaction object used after it committed or rolled back. */
export class TransactionClosedError extends PercolatorError {
  readonly code = 'TRANSACTION_CLOSED';
  readonly retryable = false;
}

/** A database used after `db.close()`. */
export class DatabaseClosedError extends PercolatorError {
  readonly code = 'DATABASE_CLOSED';
  readonly retryable = false;
}

/** Thrown by `tx.rollback()`; `db.transaction` catches it and rethrows to the caller. */
export class TransactionRollbackError extends PercolatorError {
  readonly code = 'ROLLBACK';
  readonly retryable = false;
  constructor() {
    super('transaction rolled back by the application');
  }
}

export function isRetryable(error: unknown): boolean {
  return error instanceof PercolatorError && error.retryable;
}

/** JSON.stringify replacer that prints bigints (keys and timestamps are often bigints). */
export function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
