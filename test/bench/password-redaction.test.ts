import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../bench/bench-options.js';
import { PostgresServer } from '../../src/harness/postgres-server.js';

const execFileAsync = promisify(execFile);

/** Passwords given on the command line never reach the benchmark's output. */
describe('benchmark output without passwords', () => {
  let server: PostgresServer;
  let dir: string;
  beforeAll(async () => {
    server = await PostgresServer.create({ unsafeFast: true });
    dir = mkdtempSync(path.join(os.tmpdir(), 'bench-redaction-'));
  });
  afterAll(async () => {
    await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the JSON and the HTML report show the command with its passwords hidden', async () => {
    const password = new URL(server.url).password;
    const userinfoUrl = server.url;
    const queryUrl = `postgres://postgres@127.0.0.1:${server.port}/postgres?password=${password}&application_name=bench`;
    const report = path.join(dir, 'report.html');
    const { stdout } = await execFileAsync(process.execPath, [
      'bin/percolator.js', 'bench', '--systems', 'local,2pc', '--shard-url', userinfoUrl, `--local-url=${queryUrl}`,
      '--clients', '2', '--keys', '100', '--warmup', '0', '--duration', '1', '--json', '--report', report,
    ], { timeout: 60_000 });
    const json = JSON.parse(stdout) as { command: string; results: { error?: string }[] };
    expect(json.results.filter((r) => r.error)).toEqual([]);
    expect(json.command).toContain('--shard-url postgres://postgres:***@127.0.0.1');
    expect(json.command).toContain('password=***');
    expect(stdout).not.toContain(password);
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('postgres://postgres:***@127.0.0.1');
    expect(html).not.toContain(password);
  });

  it('a URL that is refused is not echoed with its password', () => {
    for (const url of ['mysql://admin:hunter2@db/app', 'postgres://admin:hunter2@[db/app', 'postgres://db/app?sslmode=require&password=hunter2']) {
      let message = '';
      try {
        parseBenchArgs(['--shard-url', url, '--shard-url', 'mysql://x']);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/not a Postgres URL/);
      expect(message).not.toContain('hunter2');
    }
  });
});
