import { readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

/**
 * Data directories are named `shard-<owner pid>-<random>`; scratch copies of
 * binaries and templates `<name>.tmp-<pid>-<random>`. A directory whose
 * owner process is gone and whose postmaster (if any) is gone too is left
 * over from a run that was killed outright: it is removed.
 */
export function removeStaleDirectories(root: string): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(root)) {
    const owner = /^shard-(\d+)-|\.tmp-(\d+)-/.exec(name);
    if (!owner) continue;
    const pid = Number(owner[1] ?? owner[2]);
    const dir = path.join(root, name);
    if (pid === process.pid || isAlive(pid) || postmasterRuns(dir)) continue;
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/** The pid in the data directory's postmaster.pid is a live process that serves this directory. */
function postmasterRuns(dataDir: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(dataDir);
  } catch {
    return true; // no /proc: trust the pid
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
