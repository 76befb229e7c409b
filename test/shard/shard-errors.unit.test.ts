import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ShardStatementError, ShardUnavailableError } from '../../src/errors.js';
import { translateShardError } from '../../src/shard/shard-errors.js';

/** A Postgres error as node-postgres delivers it. */
function postgresError(code: string, message = 'boom'): pg.DatabaseError {
  const error = new pg.DatabaseError(message, 0, 'error');
  error.code = code;
  error.severity = 'ERROR';
  return error;
}

describe('translateShardError', () => {
  it('aborts for a concurrent statement are retryable ShardStatementErrors', () => {
    for (const code of ['40001', '40P01', '55P03']) {
      const error = translateShardError('s0', postgresError(code));
      expect(error).toBeInstanceOf(ShardStatementError);
      expect((error as ShardStatementError).retryable).toBe(true);
    }
  });

  it('a statement whose completion is unknown (40003) is not retryable', () => {
    const error = translateShardError('s0', postgresError('40003'));
    expect(error).toBeInstanceOf(ShardStatementError);
    expect((error as ShardStatementError).retryable).toBe(false);
  });

  it('a shard out of disk or memory reports a statement error, not a lost connection (which would end a pipelined connection and its neighbours)', () => {
    for (const code of ['53100', '53200', '53300']) {
      const error = translateShardError('s0', postgresError(code));
      expect(error).toBeInstanceOf(ShardStatementError);
      expect(error).not.toBeInstanceOf(ShardUnavailableError);
      expect((error as ShardStatementError).retryable).toBe(true);
    }
  });

  it('a read-only server (a standby after failover) and lost connections are ShardUnavailableError', () => {
    expect(translateShardError('s0', postgresError('25006'))).toBeInstanceOf(ShardUnavailableError);
    expect(translateShardError('s0', postgresError('57P01'))).toBeInstanceOf(ShardUnavailableError);
  });

  it("a connect the server never answered (node-postgres's 'timeout expired', as across a network partition) is ShardUnavailableError", () => {
    expect(translateShardError('s0', new Error('timeout expired'), true)).toBeInstanceOf(ShardUnavailableError);
  });
});
