import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/errors.js';
import { EtcdCluster } from '../../src/harness/etcd-cluster.js';
import { startOracleProcess, type OracleProcess } from '../../src/harness/oracle-process.js';
import { silentLogger } from '../../src/logger.js';
import { openMetaStore } from '../../src/oracle/meta-store.js';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import { makeCertificates } from './support/certificates.js';

/**
 * The oracle's etcd meta store over TLS (`etcds://...?cacert=&cert=&key=`):
 * a real etcd member serving clients over TLS and requiring a client
 * certificate from the test CA.
 */
// Not skipped without openssl: npm test installs it (scripts/test-system-packages.sh), and makeCertificates fails naming it.
describe('oracle on etcd over TLS', () => {
  let dir: string;
  /** Certificates of another CA, which the members do not trust and which did not sign theirs. */
  let otherDir: string;
  let etcd: EtcdCluster;
  const oracles: OracleProcess[] = [];
  const file = (name: string): string => path.join(dir, name);
  const openOptions = { logger: silentLogger, queryTimeoutMs: 500, startTimeoutMs: 1500 };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'etcd-tls-'));
    makeCertificates(dir);
    otherDir = mkdtempSync(path.join(os.tmpdir(), 'etcd-tls-other-'));
    makeCertificates(otherDir);
    etcd = await EtcdCluster.start({
      members: 1,
      tls: { cacert: file('ca.crt'), cert: file('server.crt'), key: file('server.key'), clientCertAuth: true, clientCert: file('client.crt'), clientKey: file('client.key') },
    });
  });
  afterAll(async () => {
    await Promise.all(oracles.map((o) => o.kill()));
    await etcd?.destroy();
    for (const d of [dir, otherDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('an oracle with the CA and a client certificate serves; killed and started again, it serves above what it served', async () => {
    const metaUrl = etcd.url();
    expect(metaUrl).toMatch(/^etcds:\/\/.*\?cacert=/);
    const oracle = await startOracleProcess({ metaUrl, args: ['--lease', '1s'] });
    oracles.push(oracle);
    const client = createOracleClient({ addresses: [oracle.address], deadlineMs: 15_000 });
    try {
      const before = await client.getTimestamp();
      await oracle.kill('SIGKILL');
      await oracle.restart();
      expect(await client.getTimestamp()).toBeGreaterThan(before);
    } finally {
      await client.close();
    }
  });

  it('refuses a client without a certificate, a plaintext client, another CA and an unreadable file', async () => {
    const [endpoint] = etcd.endpoints;
    const secure = (files: Record<string, string>) => `etcds://${endpoint}/p?${Object.entries(files).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`;
    const failure = (url: string) => openMetaStore(url, openOptions).then(
      () => 'connected',
      (error: unknown) => String(error),
    );
    // The member refuses a client without a certificate; the client refuses a member its CA did not sign.
    expect(await failure(secure({ cacert: file('ca.crt') }))).toMatch(/bad certificate/);
    expect(await failure(secure({ cacert: path.join(otherDir, 'ca.crt'), cert: file('client.crt'), key: file('client.key') }))).toMatch(/unable to verify/);
    expect(await failure(`etcd://${endpoint}/p`)).toMatch(/UNAVAILABLE/);
    const unreadable = `etcds://${endpoint}/p?cacert=${encodeURIComponent(file('missing.crt'))}`;
    await expect(openMetaStore(unreadable, openOptions)).rejects.toThrow(InvalidInputError);
    await expect(openMetaStore(unreadable, openOptions)).rejects.toThrow(/cacert file .*missing\.crt/);
    // And with every file, the same member answers.
    const store = await openMetaStore(etcd.url(), openOptions);
    await store.close();
  });
});
