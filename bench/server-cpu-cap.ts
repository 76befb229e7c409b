import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidInputError } from '../src/errors.js';
import { childPids } from './cpu-accounting.js';

/**
 * `--server-cpu <cores>`: every Postgres server of the benchmark in a CPU
 * cgroup of its own capped at `cores` (0.15 = 15 ms of CPU per 100 ms), so
 * that one machine can stand for a cluster of small servers and adding
 * shards adds capacity. The postmaster and its current children are moved
 * into the group; backends forked later inherit it. cgroup v2 (`cpu.max`,
 * the cpu controller enabled at the root) or v1 (`cpu.cfs_quota_us`), as
 * root; anything else is refused with the reason.
 */

const PERIOD_US = 100_000;
const REMOVE_ATTEMPTS = 40;
const REMOVE_RETRY_MS = 50;
const V2_ROOT = '/sys/fs/cgroup';
const V1_ROOT = '/sys/fs/cgroup/cpu';

type Flavour = { version: 2; root: string } | { version: 1; root: string };

/** Which cgroup hierarchy can cap CPU here; throws InvalidInputError saying why not. */
export function cpuCapSupport(): Flavour {
  if (process.platform !== 'linux') throw new InvalidInputError('--server-cpu needs Linux cgroups; this is ' + process.platform);
  if (process.getuid?.() !== 0) throw new InvalidInputError('--server-cpu moves the Postgres servers into CPU cgroups, which needs root here; run as root or leave it out');
  const controllers = path.join(V2_ROOT, 'cgroup.controllers');
  if (existsSync(controllers) && readFileSync(controllers, 'utf8').split(/\s+/).includes('cpu')) return { version: 2, root: V2_ROOT };
  if (existsSync(path.join(V1_ROOT, 'cpu.cfs_quota_us'))) return { version: 1, root: V1_ROOT };
  throw new InvalidInputError('--server-cpu: no CPU cgroup controller found (neither cgroup v2 with the cpu controller at /sys/fs/cgroup nor cgroup v1 at /sys/fs/cgroup/cpu)');
}

export interface CpuCap {
  /** Moves the processes back to the root group and removes the groups. */
  release(): void;
}

/** Caps each postmaster (and its process tree) at `cores` of CPU, a group per server. */
export function capServers(postmasters: readonly { label: string; pid: number }[], cores: number): CpuCap {
  const flavour = cpuCapSupport();
  const groups: string[] = [];
  const release = (): void => {
    for (const dir of groups.reverse()) {
      try {
        // Back to the root group, so that the directory can go (a group with processes cannot).
        removeGroup(dir, flavour.root);
      } catch {
        /* the servers are gone or the group was removed already */
      }
    }
  };
  try {
    if (flavour.version === 2) enableCpuController(flavour.root);
    for (const { label, pid } of postmasters) {
      const dir = path.join(flavour.root, `percolator-bench-${process.pid}-${label.replace(/\W+/g, '-')}`);
      mkdirSync(dir, { recursive: true });
      groups.push(dir);
      const quota = Math.max(1000, Math.round(cores * PERIOD_US));
      if (flavour.version === 2) {
        writeFileSync(path.join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`);
      } else {
        writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
        writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(quota));
      }
      // The postmaster first: whatever it forks from now on is born in the group.
      writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
      // Twice: a child forked just before the postmaster moved may be missing from the first listing.
      for (let pass = 0; pass < 2; pass++) for (const child of childPids(pid)) writeSafely(path.join(dir, 'cgroup.procs'), String(child));
    }
  } catch (error) {
    release();
    if (error instanceof InvalidInputError) throw error;
    throw new InvalidInputError(`--server-cpu: could not cap the servers' CPU: ${(error as Error).message}`);
  }
  return { release };
}

/**
 * Moves the group's processes back to the root group and removes it. A
 * backend that is exiting (a zombie until the postmaster reaps it) cannot
 * be moved and keeps the group busy for a moment: tried again for a while.
 */
function removeGroup(dir: string, root: string): void {
  for (let attempt = 0; ; attempt++) {
    for (const pid of readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) writeSafely(path.join(root, 'cgroup.procs'), pid);
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EBUSY' || attempt >= REMOVE_ATTEMPTS) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, REMOVE_RETRY_MS);
    }
  }
}

function enableCpuController(root: string): void {
  const control = path.join(root, 'cgroup.subtree_control');
  if (!readFileSync(control, 'utf8').split(/\s+/).includes('cpu')) writeFileSync(control, '+cpu');
}

/** A process may exit between listing and moving it. */
function writeSafely(file: string, value: string): void {
  try {
    writeFileSync(file, value);
  } catch {
    /* gone */
  }
}
