import { PercolatorError, SchemaError, ShardUnavailableError } from '../errors.js';

const CONNECTION_MESSAGES = [
  'Connection terminated',
  'connection timeout',
  'timeout exceeded when trying to connect',
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
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || code.startsWith('57P')) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTCONN'].includes(code)) return true;
  }
  return CONNECTION_MESSAGES.some((m) => error.message.includes(m));
}

/**
 * True when Postgres aborted the statement's local transaction because of
 * another one (deadlock 40P01, serialization failure 40001, a row lock
 * waited on past lock_timeout 55P03): nothing of it took effect, and running
 * it again may succeed.
 */
export function isPostgresAbort(error: unknown): boolean {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return code === '40P01' || code === '40001' || code === '55P03';
}

/** Turns a raw driver error into a catalogue error where one fits; leaves catalogue errors alone. */
export function translateShardError(shardName: string, error: unknown): unknown {
  if (error instanceof PercolatorError) return error;
  if (isConnectionError(error)) return new ShardUnavailableError(shardName, { cause: error });
  const code = (error as { code?: unknown }).code;
  if (code === '42P01' || code === '42883') {
    return new SchemaError(`storage missing on shard ${shardName} (run migrate first): ${(error as Error).message}`, { cause: error });
  }
  return error;
}
