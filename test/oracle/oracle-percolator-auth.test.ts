import { eq } from 'drizzle-orm';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOracleProcess, type OracleProcess } from '../../src/harness/oracle-process.js';
import { PostgresCluster } from '../../src/harness/postgres-cluster.js';
import { InvalidInputError, OracleRequestRejectedError, OracleUnavailableError, percolator } from '../../src/index.js';
import { accounts } from '../support/client-schema.js';
import { hasOpenssl, makeCertificates } from './support/certificates.js';
import { createMetaDatabase } from './support/meta-database.js';

const TOKEN = 'oracle-secret-7f3a';

/** percolator() against oracles that require a bearer token, and mutual TLS plus a token. */
describe.skipIf(!hasOpenssl())('percolator() with an oracle that requires a token or mutual TLS', () => {
  let shards: PostgresCluster;
  let tokenOracle: OracleProcess;
  let tlsOracle: OracleProcess;
  let dir: string;
  const file = (name: string): Buffer => readFileSync(path.join(dir, name));

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'oracle-auth-'));
    makeCertificates(dir);
    shards = await PostgresCluster.start(2, { unsafeFast: true });
    const meta = shards.servers[0]!;
    const tlsArgs = ['--tls-cert', path.join(dir, 'server.crt'), '--tls-key', path.join(dir, 'server.key'), '--tls-ca', path.join(dir, 'ca.crt')];
    [tokenOracle, tlsOracle] = await Promise.all([
      startOracleProcess({ metaUrl: await createMetaDatabase(meta), env: { PERCOLATOR_ORACLE_TOKEN: TOKEN } }),
      startOracleProcess({ metaUrl: await createMetaDatabase(meta), args: tlsArgs, env: { PERCOLATOR_ORACLE_TOKEN: TOKEN } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([tokenOracle?.stop(), tlsOracle?.stop()]);
    await shards?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function transfer(oracle: Parameters<typeof percolator>[0]['oracle']): Promise<void> {
    const db = await percolator({ oracle, shards: shards.urls, schema: { accounts } });
    try {
      await db.migrate();
      await db.delete(accounts);
      await db.insert(accounts).values([{ id: 1, balance: 100 }, { id: 2, balance: 0 }]);
      await db.transaction(async (tx) => {
        await tx.update(accounts).set({ balance: 60 }).where(eq(accounts.id, 1));
        await tx.update(accounts).set({ balance: 40 }).where(eq(accounts.id, 2));
      });
      expect(await db.select({ id: accounts.id, balance: accounts.balance }).from(accounts).orderBy(accounts.id)).toEqual([{ id: 1, balance: 60 }, { id: 2, balance: 40 }]);
    } finally {
      await db.close();
    }
  }

  it('connects with the token and runs transactions; refuses a missing or wrong token at once', async () => {
    await transfer({ addresses: [tokenOracle.address], token: TOKEN });
    for (const oracle of [[tokenOracle.address], { addresses: [tokenOracle.address], token: 'wrong' }]) {
      const error = await percolator({ oracle, shards: shards.urls, schema: { accounts } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OracleRequestRejectedError);
      expect((error as Error).message).toMatch(/UNAUTHENTICATED/);
    }
  });

  it('connects over mutual TLS with a token; refuses a client without a certificate', async () => {
    const tls = { ca: file('ca.crt'), cert: file('client.crt'), key: file('client.key') };
    await transfer({ addresses: [tlsOracle.address], token: TOKEN, tls });
    // PEM text works as well as Buffers.
    await transfer({ addresses: [tlsOracle.address], token: TOKEN, tls: { ca: tls.ca.toString(), cert: tls.cert.toString(), key: tls.key.toString() } });
    const error = await percolator({ oracle: { addresses: [tlsOracle.address], token: TOKEN, tls: { ca: tls.ca } }, shards: shards.urls, schema: { accounts } }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OracleUnavailableError);
  });

  it('checks the object form before connecting', async () => {
    const bad: unknown[] = [
      { addresses: [] },
      { addresses: [tokenOracle.address], token: '' },
      { addresses: [tokenOracle.address], tls: { cert: 'x' } },
      { addresses: [tokenOracle.address], tls: { ca: 'x', certificate: 'y' } },
      { addresses: [tokenOracle.address], tokn: TOKEN },
    ];
    for (const oracle of bad) {
      await expect(percolator({ oracle: oracle as never, shards: shards.urls, schema: { accounts } })).rejects.toBeInstanceOf(InvalidInputError);
    }
  });
});
