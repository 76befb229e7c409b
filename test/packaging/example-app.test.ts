import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

/**
 * examples/quickstart as a user gets it: the package from `npm pack`,
 * installed into a scratch directory next to the application's own
 * drizzle-orm, type-checked by strict `tsc` (library declarations
 * included) and run against throwaway servers.
 *
 * The application's drizzle-orm is deliberately another version than the one
 * the library is built against (the floor of the peer range): the library
 * must use the application's copy, or drizzle's types and `is()` checks
 * disagree between the two copies.
 */
const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The first version the peer range names (`^0.44.7 || ...` gives 0.44.7); .ci/run puts it in npm's cache. */
const APP_DRIZZLE_VERSION = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).peerDependencies['drizzle-orm'] as string)
  .split('||')[0]!
  .trim()
  .replace(/^\^/, '');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

let scratch: string;
let cluster: TestCluster | undefined;

async function sh(cwd: string, file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await run(file, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}\n${e.message}`);
  }
}

/** Packs the library (dist/ is built by `npm test` before vitest runs: no prepare here) and installs the example next to it. */
async function installExample(): Promise<string> {
  const packed = JSON.parse(await sh(root, npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch])) as { filename: string }[];
  const tarball = path.join(scratch, packed[0]!.filename);
  const app = path.join(scratch, 'app');
  mkdirSync(app);
  for (const file of ['package.json', 'tsconfig.json', 'index.ts']) cpSync(path.join(root, 'examples/quickstart', file), path.join(app, file));
  const manifest = JSON.parse(readFileSync(path.join(app, 'package.json'), 'utf8'));
  manifest.dependencies['pg-percolator'] = `file:${tarball}`;
  manifest.dependencies['drizzle-orm'] = APP_DRIZZLE_VERSION;
  writeFileSync(path.join(app, 'package.json'), JSON.stringify(manifest, null, 2));
  // Install scripts are not needed: the servers come from this repository's harness.
  await sh(app, npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error']);
  return app;
}

beforeAll(async () => {
  mkdirSync(path.join(root, '.tmp'), { recursive: true });
  scratch = mkdtempSync(path.join(root, '.tmp', 'example-app-'));
}, 10_000);

afterAll(async () => {
  await cluster?.destroy();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('examples/quickstart from the packed library', () => {
  it('installs with its own drizzle-orm, type-checks strictly and runs', { timeout: 240_000 }, async () => {
    const [app, started] = await Promise.all([installExample(), startTestCluster({ shards: 3 })]);
    cluster = started;

    // One copy of drizzle-orm: the application's.
    const nested = await sh(app, npm, ['ls', 'drizzle-orm', '--all', '--parseable']);
    expect(nested.trim().split('\n').map((p) => path.relative(app, p))).toEqual([path.join('node_modules', 'drizzle-orm')]);

    await sh(app, path.join(app, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json']);

    const stdout = await sh(app, process.execPath, ['dist/index.js'], {
      PERCOLATOR_SHARDS: cluster.shardUrls.join(','),
      PERCOLATOR_ORACLE: cluster.oracleAddress,
    });
    expect(JSON.parse(stdout.trim())).toEqual({ rich: [{ id: 1, balance: 4990 }], balance: 4990 });
  });
});
