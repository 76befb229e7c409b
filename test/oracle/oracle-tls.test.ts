import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OracleUnavailableError } from '../../src/errors.js';
import type { OracleProcess } from '../../src/harness/oracle-process.js';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import { hasOpenssl, makeCertificates } from './support/certificates.js';
import { useMetaServer } from './support/meta-server-fixture.js';

describe.skipIf(!hasOpenssl())('oracle over mutual TLS', () => {
  const meta = useMetaServer();
  let oracle: OracleProcess;
  let dir: string;
  const file = (name: string): Buffer => readFileSync(path.join(dir, name));
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'oracle-tls-'));
    makeCertificates(dir);
    const tlsArgs = ['--tls-cert', path.join(dir, 'server.crt'), '--tls-key', path.join(dir, 'server.key'), '--tls-ca', path.join(dir, 'ca.crt')];
    oracle = await meta.oracle({ args: tlsArgs });
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves clients that present a certificate from the CA', async () => {
    const client = createOracleClient({ addresses: [oracle.address], tls: { ca: file('ca.crt'), cert: file('client.crt'), key: file('client.key') } });
    try {
      expect(await client.getTimestamp()).toBeGreaterThan(0n);
    } finally {
      await client.close();
    }
  });

  it('refuses clients without a certificate and plaintext clients', async () => {
    for (const tls of [{ ca: file('ca.crt') }, undefined]) {
      const client = createOracleClient({ addresses: [oracle.address], tls, deadlineMs: 800 });
      try {
        await expect(client.getTimestamp()).rejects.toBeInstanceOf(OracleUnavailableError);
      } finally {
        await client.close();
      }
    }
  });
});
