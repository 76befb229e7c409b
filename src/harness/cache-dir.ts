import { lstatSync, mkdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The per-user directory that holds the throwaway servers' binaries (copied
 * out of node_modules), their template data directory and their data
 * directories: `$TMPDIR/pg-percolator-<uid>`.
 *
 * Nobody else may own or write it: it is refused when it is a symlink, is
 * owned by another user or is writable by group or others. Run as root, the
 * servers run as the `postgres` user, which must be able to pass through it
 * (mode 0711: enter, not list) and through every directory above it; a
 * checkout under a directory `postgres` cannot enter is fine, since the
 * binaries are copied here.
 */
export function cacheRoot(): string {
  const uid = process.getuid?.() ?? 0;
  const root = path.join(os.tmpdir(), `pg-percolator-${uid}`);
  const mode = uid === 0 ? 0o711 : 0o700;
  try {
    mkdirSync(root, { mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  checkOwnDirectory(root, uid);
  if (uid === 0) checkReachableByOthers(root);
  return root;
}

/** Throws unless `dir` is a real directory owned by `uid` that no one else may write. */
export function checkOwnDirectory(dir: string, uid: number): void {
  const stat = lstatSync(dir);
  if (!stat.isDirectory()) throw new Error(`throwaway Postgres cache ${dir} is not a directory (a symlink?): remove it`);
  if (stat.uid !== uid) throw new Error(`throwaway Postgres cache ${dir} is owned by uid ${stat.uid}, not by this user (uid ${uid}): remove it`);
  if ((stat.mode & 0o022) !== 0) {
    throw new Error(`throwaway Postgres cache ${dir} is writable by others (mode ${(stat.mode & 0o777).toString(8)}): remove it or chmod go-w`);
  }
}

/** As root the servers run as `postgres`: every directory above the cache must let others through. */
function checkReachableByOthers(dir: string): void {
  for (let d = dir; ; d = path.dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) {
      throw new Error(`the postgres user cannot enter ${d} (mode ${(statSync(d).mode & 0o777).toString(8)}), so throwaway servers under ${dir} cannot start: chmod o+x it or set TMPDIR to a directory it can reach`);
    }
    if (path.dirname(d) === d) return;
  }
}
