import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OracleUnavailableError } from '../../src/errors.js';
import { startOracleProcess, type OracleProcess } from '../../src/harness/oracle-process.js';
import { PostgresServer } from '../../src/harness/postgres-server.js';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import { createMetaDatabase } from './support/meta-database.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with the openssl CLI. */
function makeCertificates(dir: string): void {
  const run = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=percolator-test-ca', '-days', '2');
  writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const name of ['server', 'client']) {
    run('req', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    const ext = name === 'server' ? ['-extfile', 'server.ext'] : [];
    run('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', ...ext);
  }
}

describe.skipIf(!hasOpenssl())('oracle over mutual TLS', () => {
  let meta: PostgresServer;
  let oracle: OracleProcess;
  let dir: string;
  const file = (name: string): Buffer => readFileSync(path.join(dir, name));
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'oracle-tls-'));
    makeCertificates(dir);
    meta = await PostgresServer.create({ unsafeFast: true });
    const tlsArgs = ['--tls-cert', path.join(dir, 'server.crt'), '--tls-key', path.join(dir, 'server.key'), '--tls-ca', path.join(dir, 'ca.crt')];
    oracle = await startOracleProcess({ metaUrl: await createMetaDatabase(meta), args: tlsArgs });
  });
  afterAll(async () => {
    await oracle?.stop();
    await meta?.destroy();
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
