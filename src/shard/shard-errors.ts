import { slotFilterNeeded } from './slot-filter-needed.js';
import pg from 'pg';
import { InvalidInputError, PercolatorError, PlacementChangedError, SchemaError, SchemaVersionError, ShardStatementError, ShardUnavailableError } from '../errors.js';
import { StoredColumnsChangedError } from './stored-columns-changed.js';

const CONNECTION_MESSAGES = [
  'Connection terminated',
  'connection timeout',
  'timeout exceeded when trying to connect',
  // node-postgres's connectionTimeoutMillis on a single client (no pool): the server never answered the connect.
  'timeout expired',
  'Query read timeout',
  'Client has encountered a connection error',
  'Connection ended',
  'the database system is',
];

/**
 * True for failures that say "the shard went away or did not answer", as
 * opposed to errors the shard reported about a statement: SQLSTATE class 08
 * (connection), 57P0x (shutdown / crash recovery), socket errors and
 * node-postgres's own timeout and termination messages.
 */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof PercolatorError) return error instanceof ShardUnavailableError;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || code.startsWith('57P')) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTCONN'].includes(code)) return true;
  }
  return CONNECTION_MESSAGES.some((m) => error.message.includes(m));
}

/** Postgres's SQLSTATE of a driver error, or of the driver error behind a catalogue error. */
export function sqlStateOf(error: unknown): string | undefined {
  if (error instanceof PercolatorError) return error.sqlState;
  if (!(error instanceof Error)) return undefined;
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return undefined;
  // Postgres's errors as node-postgres delivers them (not socket errno codes such as EPIPE).
  return error instanceof pg.DatabaseError || typeof severity === 'string' ? code : undefined;
}

/**
 * True when Postgres aborted the statement's local transaction because of
 * another one (deadlock 40P01, serialization failure 40001, a row lock
 * waited on past lock_timeout 55P03): nothing of it took effect, and running
 * it again may succeed.
 */
export function isPostgresAbort(error: unknown): boolean {
  const code = sqlStateOf(error);
  return code === '40P01' || code === '40001' || code === '55P03';
}

/**
 * SQLSTATEs of a statement Postgres could not resolve against what is on the
 * shard: a column, type, function or operator missing or of another type.
 * The statements are the library's own, so either the storage differs from
 * the declaration, or a raw `sql` fragment of the filter does not fit the
 * columns' types (fragments cannot name tables: filter-text.ts).
 */
const DOES_NOT_RESOLVE = new Set(['42703', '42804', '42846', '42704', '42883', '42P18', '42725', '42P08']);

/**
 * The one place a shard's failure becomes a catalogue error. Connection
 * failures become ShardUnavailableError; errors Postgres reported about a
 * statement become SchemaError (storage missing or different from the
 * declaration), InvalidInputError (a value or filter the shard could not
 * evaluate, SQLSTATE class 22), or ShardStatementError, each with the
 * SQLSTATE (`sqlState`) and the driver's error (`cause`). Catalogue errors
 * pass unchanged. Anything else also passes unchanged unless `fromDriver`:
 * ShardPool.transaction() sees the errors of the caller's own work too,
 * which are not the driver's to translate.
 */
export function translateShardError(shardName: string, error: unknown, fromDriver = false): unknown {
  if (error instanceof PercolatorError) return error;
  // 25006: a read-only server, i.e. a standby where the primary was (after a failover): look for the primary again.
  if (isConnectionError(error) || sqlStateOf(error) === '25006') return new ShardUnavailableError(shardName, { cause: error, sqlState: sqlStateOf(error) });
  const sqlState = sqlStateOf(error);
  if (sqlState === undefined) {
    if (!fromDriver) return error;
    return new ShardStatementError(shardName, `shard ${shardName}: the driver failed to run a statement: ${messageOf(error)}`, { cause: error, retryable: false });
  }
  const what = `shard ${shardName}: ${messageOf(error)} (SQLSTATE ${sqlState})`;
  const options = { cause: error, sqlState };
  // The prewrite function's schema fences (prewrite-statements.ts).
  if (sqlState === 'PCSV1') return schemaVersionError(what, options);
  // A copy by column list refused by the columns fence (commit-statements.ts): the caller builds it again.
  if (sqlState === 'PCSV2') return new StoredColumnsChangedError(detailOf(error) ?? '', `${what}: run again with the shard's columns`, options);
  // The slot fence of prewrites (schema/core/0008-slot-ownership.sql).
  if (sqlState === 'PCSL1') return new PlacementChangedError(shardName, `${what}: this client's placement map is stale or the slot is moving`, options);
  // A read without its per-row slot filter on a shard holding rows it did not own at the reader's version (slot-read-filter.ts).
  if (sqlState === 'PCSL3') return slotFilterNeeded(shardName, what, options);
  // Storage relations and functions are named `<table>__...` (storage-ddl.ts).
  if (sqlState === '42P01' || (sqlState === '42883' && messageOf(error).includes('__'))) {
    return new SchemaError(`${what}: the storage of a table is missing; run db.migrate() (it creates the storage of every table of the schema)`, options);
  }
  if (DOES_NOT_RESOLVE.has(sqlState)) {
    return new SchemaError(
      `${what}: the table's storage differs from its declaration, or a sql fragment of the filter does not fit the columns' types. Run db.migrate() if the declaration changed; if a migrate() changed the table since (a column dropped), deploy the declaration the shards store. Otherwise fix the filter`,
      options,
    );
  }
  if (sqlState.startsWith('22')) {
    return new InvalidInputError(`${what}: a value, or an expression of a sql fragment in the filter, that the shard could not evaluate; check the values and the filter`, options);
  }
  if (sqlState.startsWith('53')) {
    // Disk full, out of memory, too many connections: the server is up and the connection is sound.
    return new ShardStatementError(shardName, `${what}: the shard is out of a resource (disk, memory, connections); nothing of the statement took effect, and running the transaction again may succeed once it has recovered`, { ...options, retryable: true });
  }
  // Only the aborts that say nothing took effect: 40003 (completion unknown) is not one.
  const retryable = isPostgresAbort(error);
  const hint = retryable
    ? 'Postgres aborted the statement because of a concurrent one; nothing of it took effect, and running the transaction again may succeed'
    : sqlState === '42501'
      ? "the shard's role lacks a privilege on the storage tables: grant it, or connect as their owner"
      : "not expected of valid input; the shard's log shows the statement";
  return new ShardStatementError(shardName, `${what}: ${hint}`, { ...options, retryable });
}

/** PCSV1: the index fence's (no detail), or the version fence's (detail: table|writer's version|stored version). */
function schemaVersionError(what: string, options: { cause: unknown; sqlState: string }): SchemaVersionError {
  const detail = detailOf(options.cause);
  if (detail === undefined) {
    return new SchemaVersionError(`${what}: upgrade this client's schema to declare every index of the table (a writer without them would leave rows out of the index)`, options);
  }
  const [table, theirs, stored] = detail.split('|');
  const versions = { ...(theirs ? { clientVersion: Number(theirs) } : {}), ...(stored ? { storedVersion: Number(stored) } : {}) };
  return new SchemaVersionError(
    `${what}: this client's declaration of table ${table} is not the schema the shards store (a column or index was added or dropped by migrate()); deploy code with the current declaration. Reads keep working`,
    { ...options, table: table ?? '', ...versions },
  );
}

function detailOf(error: unknown): string | undefined {
  const detail = (error as { detail?: unknown } | undefined)?.detail;
  return typeof detail === 'string' && detail.length > 0 ? detail : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
