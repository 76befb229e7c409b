import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { OracleConnectionRefusedError, OracleUnavailableError } from '../../src/errors.js';
import type { OracleProcess } from '../../src/harness/oracle-process.js';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import { META_BACKENDS, useMetaServer } from './support/meta-server-fixture.js';
import { silentListener } from './support/silent-listener.js';

describe.each(META_BACKENDS)('oracle unavailable (meta store: %s)', (backend) => {
  const meta = useMetaServer(backend);
  let oracle: OracleProcess | undefined;

  it('fails with OracleUnavailableError within the deadline while nothing answers, and recovers when an oracle starts', async () => {
    // Something listens but never speaks gRPC (a stuck process): the client waits out its deadline.
    const silent = await silentListener();
    const address = silent.address;
    const deadlineMs = 1000;
    const client = createOracleClient({ addresses: [address], deadlineMs });
    try {
      const started = performance.now();
      const results = await Promise.allSettled(Array.from({ length: 50 }, () => client.getTimestamp()));
      const elapsed = performance.now() - started;
      for (const result of results) {
        expect(result.status).toBe('rejected');
        expect((result as PromiseRejectedResult).reason).toBeInstanceOf(OracleUnavailableError);
        expect((result as PromiseRejectedResult).reason.retryable).toBe(true);
      }
      expect(elapsed).toBeGreaterThanOrEqual(deadlineMs - 50);
      expect(elapsed).toBeLessThan(deadlineMs + 1500); // the deadline holds, give or take a busy machine
      await silent.close();

      // Nothing listens: refused at once (retryable), not after the deadline.
      const refused = await client.getTimestamp().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(OracleConnectionRefusedError);

      oracle = await meta.oracle({ listen: address, args: ['--lease', '1s'] });
      const first = await client.getTimestamp();
      expect(first).toBeGreaterThan(0n);

      // Graceful stop: the same client, once served, waits out its deadline (a restart may be under way), then fails.
      await oracle.stop();
      await expect(client.getTimestamp()).rejects.toBeInstanceOf(OracleUnavailableError);
      await oracle.restart();
      expect(await client.getTimestamp()).toBeGreaterThan(first);
    } finally {
      await client.close();
    }
  });

  it('a client that has been served rides out a restart of its only oracle within its deadline', async () => {
    oracle ??= await meta.oracle({ args: ['--lease', '1s'] });
    const client = createOracleClient({ addresses: [oracle.address], deadlineMs: 15_000 });
    try {
      const before = await client.getTimestamp();
      await oracle.stop();
      const during = client.getTimestamp(); // refused while the oracle is down: retried, not failed
      await sleep(300);
      await oracle.restart();
      expect(await during).toBeGreaterThan(before);
    } finally {
      await client.close();
    }
  });

  it('stops serving when the meta database is gone for longer than the lease, and resumes when it is back', async () => {
    await oracle?.kill();
    oracle = await meta.oracle({ args: ['--lease', '1s'] });
    const client = createOracleClient({ addresses: [oracle.address], deadlineMs: 1000 });
    try {
      const before = await client.getTimestamp();
      await meta.kill();
      await sleep(1500); // the lease runs out by the oracle's own clock
      await expect(client.getTimestamp()).rejects.toBeInstanceOf(OracleUnavailableError);
      await meta.start();
      let after: bigint | undefined;
      for (let attempt = 0; after === undefined && attempt < 20; attempt++) {
        after = await client.getTimestamp().catch(() => undefined);
      }
      expect(after).toBeGreaterThan(before);
    } finally {
      await client.close();
    }
  });

  it('a caller can give up early with an AbortSignal', async () => {
    const silent = await silentListener();
    const client = createOracleClient({ addresses: [silent.address], deadlineMs: 30_000 });
    try {
      const signal = AbortSignal.timeout(200);
      await expect(client.getTimestamp({ signal })).rejects.toMatchObject({ name: 'TimeoutError' });
    } finally {
      await client.close();
      await silent.close();
    }
  });

  it('a closed client refuses new calls with a clear error', async () => {
    const client = createOracleClient({ addresses: ['127.0.0.1:1'] });
    await client.close();
    await expect(client.getTimestamp()).rejects.toThrow(/closed/);
  });
});
