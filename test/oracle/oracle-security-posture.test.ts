import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OracleProcess, OracleProcessOptions } from '../../src/harness/oracle-process.js';
import { useMetaServer } from './support/meta-server-fixture.js';

/** What `percolator oracle` refuses to start with, and what it starts with but warns about. */
describe('oracle security posture', () => {
  const meta = useMetaServer();
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'oracle-posture-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (options: Omit<OracleProcessOptions, 'metaUrl'>): Promise<OracleProcess> => meta.oracle({ standby: true, startTimeoutMs: 20_000, ...options });

  it('refuses an empty token from the command line, the environment or a file', async () => {
    const emptyFile = path.join(dir, 'empty-token');
    writeFileSync(emptyFile, '  \n');
    const cases: Array<Omit<OracleProcessOptions, 'metaUrl'>> = [
      { args: ['--token', ''] },
      { env: { PERCOLATOR_ORACLE_TOKEN: '' } },
      { args: ['--token-file', emptyFile] },
    ];
    for (const options of cases) {
      await expect(start(options), JSON.stringify(options)).rejects.toThrow(/exited before listening: .*token is empty/s);
    }
  });

  it('refuses a lease or window longer than 10 minutes (a bare number is seconds: 3000 meant as ms would be 50 minutes)', async () => {
    await expect(start({ args: ['--lease', '3000'] })).rejects.toThrow(/exited before listening: .*--lease 3000s is longer than 10 minutes/s);
    await expect(start({ args: ['--window', '1h'] })).rejects.toThrow(/exited before listening: .*--window 3600s is longer than 10 minutes/s);
  });

  it('refuses plaintext on a non-loopback address unless --insecure, and then warns', async () => {
    await expect(start({ listen: '0.0.0.0:0' })).rejects.toThrow(/exited before listening: .*not a loopback address.*--insecure/s);
    await expect(start({ listen: '0.0.0.0:0', env: { PERCOLATOR_ORACLE_TOKEN: 'secret-token' } })).rejects.toThrow(
      /exited before listening: .*not a loopback address.*--insecure/s,
    );
    const insecure = await start({ listen: '0.0.0.0:0', args: ['--insecure'] });
    await waitFor(() => /WARNING.*without TLS and without a token/.test(insecure.stderr), () => insecure.stderr);
    await insecure.stop();
  });

  it('warns when a token travels without TLS on loopback', async () => {
    const oracle = await start({ env: { PERCOLATOR_ORACLE_TOKEN: 'secret-token' } });
    await waitFor(() => /WARNING.*token.*without TLS/.test(oracle.stderr), () => oracle.stderr);
    expect(oracle.stderr).not.toContain('secret-token');
  });
});

async function waitFor(done: () => boolean, describe: () => string, timeoutMs = 5000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > giveUpAt) throw new Error(`condition not met; stderr: ${describe()}`);
    await sleep(50);
  }
}
