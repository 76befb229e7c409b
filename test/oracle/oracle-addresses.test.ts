import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/harness/free-port.js';
import { PostgresServer } from '../../src/harness/postgres-server.js';
import { InvalidInputError, OracleUnavailableError, percolator } from '../../src/index.js';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import { accounts } from '../support/client-schema.js';

describe('oracle addresses', () => {
  let shard: PostgresServer;
  beforeAll(async () => {
    shard = await PostgresServer.create({ unsafeFast: true });
  });
  afterAll(async () => {
    await shard?.destroy();
  });

  it('refuses anything but host:port up front with InvalidInputError', async () => {
    const bad = ['127.0.0.1', 'http://127.0.0.1:7070', 'dns:///127.0.0.1:7070', '127.0.0.1:0', '127.0.0.1:70000', '127.0.0.1:x', ':7070', '127.0.0.1:7070/tso', ' 127.0.0.1:7070', '::1:7070', ''];
    for (const address of bad) {
      expect(() => createOracleClient({ addresses: [address] }), address).toThrow(InvalidInputError);
      const started = performance.now();
      const error = await percolator({ oracle: [address], shards: [shard.url], schema: { accounts } }).catch((e: unknown) => e);
      expect(error, address).toBeInstanceOf(InvalidInputError);
      expect((error as Error).message).toContain('host:port');
      expect(performance.now() - started).toBeLessThan(1000);
    }
    // What is accepted: names, IPv4, bracketed IPv6.
    for (const good of ['localhost:7070', '127.0.0.1:1', '[::1]:7070', 'oracle-0.oracle.svc:7070']) {
      const client = createOracleClient({ addresses: [good] });
      await client.close();
    }
  });

  it('reports a closed port as "connection refused", at once, not after the deadline', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const client = createOracleClient({ addresses: [closed], deadlineMs: 5000 });
    try {
      const started = performance.now();
      const error = await client.getTimestamp().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OracleUnavailableError);
      expect((error as OracleUnavailableError).retryable).toBe(true);
      expect((error as Error).message).toMatch(/connection refused/);
      expect((error as Error).message).toContain(closed);
      expect(performance.now() - started).toBeLessThan(1500);
    } finally {
      await client.close();
    }
    const started = performance.now();
    const error = await percolator({ oracle: [closed], shards: [shard.url], schema: { accounts } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OracleUnavailableError);
    expect((error as Error).message).toMatch(/connection refused/);
    expect(performance.now() - started).toBeLessThan(2500);
  });
});
