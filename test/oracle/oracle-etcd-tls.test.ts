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
import { hasOpenssl, makeCertificates } from './support/certificates.js';

/**
 * The oracle's etcd meta store over TLS (`etcds://...?cacert=&cert=&key=`):
 * a real etcd member serving clients over TLS and requiring a client
 * certificate from the test CA.
 */
describe.skipIf(!hasOpenssl())('oracle on etcd over TLS', () => {
  let dir: string;
  let etcd: EtcdCluster;
  const oracles: OracleProcess[] = [];
  const file = (name: string): string => path.join(dir, name);
  const openOptions = { logger: silentLogger, queryTimeoutMs: 500, startTimeoutMs: 1500 };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'etcd-tls-'));
    makeCertificates(dir);
    etcd = await EtcdCluster.start({
      members: 1,
      tls: { cacert: file('ca.crt'), cert: file('server.crt'), key: file('server.key'), clientCertAuth: true, clientCert: file('client.crt'), clientKey: file('client.key') },
    });
  });
  afterAll(async () => {
    await Promise.all(oracles.map((o) => o.kill()));
    await etcd?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
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

  it('refuses a client without a certificate, a plaintext client and an unreadable file', async () => {
    const [endpoint] = etcd.endpoints;
    const withoutCertificate = `etcds://${endpoint}/p?cacert=${encodeURIComponent(file('ca.crt'))}`;
    await expect(openMetaStore(withoutCertificate, openOptions)).rejects.toThrow();
    await expect(openMetaStore(`etcd://${endpoint}/p`, openOptions)).rejects.toThrow();
    const unreadable = `etcds://${endpoint}/p?cacert=${encodeURIComponent(file('missing.crt'))}`;
    await expect(openMetaStore(unreadable, openOptions)).rejects.toThrow(InvalidInputError);
    await expect(openMetaStore(unreadable, openOptions)).rejects.toThrow(/cacert file .*missing\.crt/);
    // And with every file, the same member answers.
    const store = await openMetaStore(etcd.url(), openOptions);
    await store.close();
  });
});
