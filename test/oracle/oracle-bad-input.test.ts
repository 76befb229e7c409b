import { spawn } from 'node:child_process';
import path from 'node:path';
import { Client, credentials, Metadata as GrpcMetadata, status, type ServiceError } from '@grpc/grpc-js';
import { ClientError, createChannel, createClient, Metadata, Status } from 'nice-grpc';
import { HealthDefinition } from 'nice-grpc-server-health';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError, OracleRequestRejectedError } from '../../src/errors.js';
import type { OracleProcess } from '../../src/harness/oracle-process.js';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import { packageRoot } from '../../src/package-root.js';
import { useMetaServer } from './support/meta-server-fixture.js';
import { rawOracleClient } from './support/raw-client.js';

const TOKEN = 'test-token-0123456789';
const auth = { metadata: Metadata({ authorization: `Bearer ${TOKEN}` }) };

/** Sends raw bytes as a request to `method` (no protobuf encoding) and returns the status code. */
function rawCall(address: string, method: string, payload: Buffer): Promise<status> {
  const client = new Client(address, credentials.createInsecure());
  const metadata = new GrpcMetadata();
  metadata.set('authorization', `Bearer ${TOKEN}`);
  return new Promise((resolve) => {
    client.makeUnaryRequest(method, (b: Buffer) => b, (b: Buffer) => b, payload, metadata, { deadline: Date.now() + 5000 }, (error) => {
      client.close();
      resolve(error ? (error as ServiceError).code : status.OK);
    });
  });
}

async function codeOf(promise: Promise<unknown>): Promise<Status | 'ok'> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    if (error instanceof ClientError) return error.code;
    throw error;
  }
}

describe('oracle bad input, authentication, health and metrics', () => {
  const meta = useMetaServer();
  let oracle: OracleProcess;
  beforeAll(async () => {
    oracle = await meta.oracle({
      args: ['--max-count', '1000', '--metrics-listen', '127.0.0.1:0'],
      env: { PERCOLATOR_ORACLE_TOKEN: TOKEN },
    });
  });

  it('rejects count 0 and counts above the cap with INVALID_ARGUMENT, on unary calls and streams', async () => {
    const { client, channel } = rawOracleClient(oracle.address);
    try {
      expect(await codeOf(client.getTimestamps({ count: 0 }, auth))).toBe(Status.INVALID_ARGUMENT);
      expect(await codeOf(client.getTimestamps({ count: 1001 }, auth))).toBe(Status.INVALID_ARGUMENT);
      expect(await codeOf(client.getTimestamps({ count: 1000 }, auth))).toBe('ok');
      const stream = async (): Promise<void> => {
        async function* requests() {
          yield { count: 5 };
          yield { count: 0 };
        }
        for await (const _ of client.streamTimestamps(requests(), auth));
      };
      expect(await codeOf(stream())).toBe(Status.INVALID_ARGUMENT);
    } finally {
      channel.close();
    }
  });

  it('answers malformed, oversized and unknown requests with an error status and keeps serving', async () => {
    const method = '/percolator.tso.v1.TimestampOracle/GetTimestamps';
    // A varint cut short, and a field with an invalid wire type.
    expect(await rawCall(oracle.address, method, Buffer.from([0x08, 0xff]))).toBe(status.INTERNAL);
    expect(await rawCall(oracle.address, method, Buffer.from([0x0f, 0x01]))).toBe(status.INTERNAL);
    expect(await rawCall(oracle.address, method, Buffer.alloc(64 * 1024, 0x08))).toBe(status.RESOURCE_EXHAUSTED);
    expect(await rawCall(oracle.address, '/percolator.tso.v1.TimestampOracle/DropTables', Buffer.alloc(0))).toBe(status.UNIMPLEMENTED);
    expect(await rawCall(oracle.address, '/no.such.Service/Call', Buffer.alloc(0))).toBe(status.UNIMPLEMENTED);
    const client = createOracleClient({ addresses: [oracle.address], token: TOKEN, maxCount: 5000 });
    try {
      expect(await client.getTimestamp()).toBeGreaterThan(0n);
      await expect(client.getTimestamps(0)).rejects.toBeInstanceOf(InvalidInputError);
      // The client allows 5000, the server's cap is 1000: refused at once, not retried.
      await expect(client.getTimestamps(2000)).rejects.toBeInstanceOf(OracleRequestRejectedError);
    } finally {
      await client.close();
    }
  });

  it('requires the bearer token on the oracle service, not on health checks', async () => {
    const { client, channel } = rawOracleClient(oracle.address);
    try {
      expect(await codeOf(client.getTimestamps({ count: 1 }))).toBe(Status.UNAUTHENTICATED);
      const wrong = { metadata: Metadata({ authorization: 'Bearer nope' }) };
      expect(await codeOf(client.getTimestamps({ count: 1 }, wrong))).toBe(Status.UNAUTHENTICATED);
      const health = createClient(HealthDefinition, createChannel(oracle.address));
      expect((await health.check({ service: 'percolator.tso.v1.TimestampOracle' })).status).toBe(1 /* SERVING */);
    } finally {
      channel.close();
    }
    const noToken = createOracleClient({ addresses: [oracle.address], deadlineMs: 30_000 });
    try {
      const started = Date.now();
      await expect(noToken.getTimestamp()).rejects.toBeInstanceOf(OracleRequestRejectedError);
      expect(Date.now() - started).toBeLessThan(10_000); // refused, not retried until the deadline
    } finally {
      await noToken.close();
    }
  });

  it('the command line refuses to start without --meta or on a port in use, and exits', async () => {
    const cli = (args: string[]): Promise<{ code: number | null; stderr: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [path.join(packageRoot(), 'bin', 'percolator.js'), 'oracle', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.once('close', (code) => resolve({ code, stderr })); // after stderr is drained
      });
    expect(await cli([])).toMatchObject({ code: 2, stderr: expect.stringContaining('--meta') });
    const busy = await cli(['--meta', meta.server.url, '--listen', oracle.address]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain('could not start');
  });

  it('exposes Prometheus metrics', async () => {
    const text = await (await fetch(`http://${oracle.metricsAddress}/metrics`)).text();
    expect(text).toMatch(/^percolator_oracle_is_leader 1$/m);
    expect(text).toMatch(/^percolator_oracle_timestamps_served_total \d+/m);
    expect(text).toContain('percolator_oracle_batch_size_bucket');
    expect(text).toContain('percolator_oracle_rpc_duration_seconds_bucket');
  });
});
