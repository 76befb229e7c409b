import { integer, pgTable } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/harness/free-port.js';
import { PostgresServer } from '../../src/harness/postgres-server.js';
import { InvalidInputError, OracleUnavailableError, percolator, SchemaError, ShardUnavailableError } from '../../src/index.js';
import { accounts } from '../support/client-schema.js';

const keyless = pgTable('keyless', { id: integer() });

describe('percolator() refuses to connect', () => {
  let server: PostgresServer;
  let closedPort: number;
  beforeAll(async () => {
    server = await PostgresServer.create({ unsafeFast: true });
    closedPort = await freePort();
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('to a bad schema, before touching the network', async () => {
    const shards = [`postgres://nobody@127.0.0.1:${closedPort}/x`];
    await expect(percolator({ oracle: ['127.0.0.1:1'], shards, schema: { keyless } })).rejects.toThrow(SchemaError);
    await expect(percolator({ oracle: ['127.0.0.1:1'], shards, schema: { accounts }, shardKeys: { accounts: ['balance'] } as never })).rejects.toThrow(
      /must be a prefix of its primary key/,
    );
    await expect(percolator({ oracle: ['127.0.0.1:1'], shards: [], schema: { accounts } })).rejects.toThrow(InvalidInputError);
    await expect(percolator({ oracle: ['127.0.0.1:1'], shards, schema: { accounts }, poolSize: 4 } as never)).rejects.toThrow(/unknown percolator\(\) option poolSize/);
    await expect(percolator({ oracle: ['127.0.0.1:1'], shards, schema: { accounts }, isolation: 'strict' as never })).rejects.toThrow(InvalidInputError);
    await expect(percolator({ oracle: ['127.0.0.1:1'], shards, schema: { accounts }, pool: { pipelines: 0 } })).rejects.toThrow(/pool.pipelines must be a positive integer/);
    await expect(percolator({ oracle: ['127.0.0.1:1'], shards, schema: { accounts }, pool: { statementTimeoutMs: -1 } })).rejects.toThrow(InvalidInputError);
    await expect(percolator({ oracle: ['127.0.0.1:1'], shards, schema: { accounts }, pool: { size: 4 } as never })).rejects.toThrow(/unknown pool option size/);
  });

  it('when a shard is unreachable, naming it and hiding its password', async () => {
    const dead = `postgres://user:secret@127.0.0.1:${closedPort}/db`;
    const error = await percolator({ oracle: ['127.0.0.1:1'], shards: [server.url, dead], schema: { accounts } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShardUnavailableError);
    expect((error as Error).message).toMatch(new RegExp(`shard #1 \\(postgres://user:\\*\\*\\*@127\\.0\\.0\\.1:${closedPort}/db\\) unavailable`));
    expect((error as Error).message).not.toContain('secret');
    expect((error as ShardUnavailableError).retryable).toBe(true);
  });

  it('when the oracle does not answer', async () => {
    const error = await percolator({ oracle: [`127.0.0.1:${closedPort}`], shards: [server.url], schema: { accounts } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OracleUnavailableError);
  });

  it('when the TimestampSource given fails', async () => {
    const failing = { getTimestamp: () => Promise.reject(new Error('clock on fire')), close: async () => {} };
    const error = await percolator({ oracle: failing, shards: [server.url], schema: { accounts } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OracleUnavailableError);
    expect((error as Error).message).toMatch(/clock on fire/);
  });
});
