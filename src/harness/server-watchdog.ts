import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';

/**
 * Waits on a pipe from the process that owns a throwaway server: a line on
 * it means "removed normally, exit"; end of file means the owner is gone,
 * however it died (SIGKILL included, which no exit hook sees). Then it
 * resumes the postmaster and its backends (a fault test may have paused
 * them) and stops it (SIGQUIT: immediate shutdown, backends included; SIGKILL
 * after 5 s) and removes the data directory. It runs in a session of its own
 * so that a Ctrl-C to the terminal's process group does not end it first.
 */
const SCRIPT = `
dir=$1
read -r line && exit 0
pid=$(head -n 1 "$dir/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ] && tr '\\000' '\\n' < "/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$dir"; then
  # A paused (SIGSTOPped) server neither shuts down nor lets its backends go: resume it first.
  kill -CONT "$pid" 2>/dev/null
  pkill -CONT -P "$pid" 2>/dev/null
  kill -QUIT "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  kill -KILL "$pid" 2>/dev/null
fi
rm -rf -- "$dir"
`;

export interface ServerWatchdog {
  /** The server was removed normally: the watchdog exits without doing anything. */
  release(): void;
}

export function startWatchdog(dataDir: string): ServerWatchdog {
  return watchOwner(['-c', SCRIPT, 'pg-percolator-watchdog', dataDir]);
}

function watchOwner(shArgs: string[]): ServerWatchdog {
  const child = spawn('sh', shArgs, { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  child.on('error', () => {}); // no sh: the exit hooks still clean up, only a SIGKILL is not covered
  child.unref();
  const stdin = child.stdin as Writable & { unref?: () => void };
  stdin.on('error', () => {});
  stdin.unref?.();
  return {
    release: () => {
      if (!stdin.destroyed) stdin.end('done\n');
    },
  };
}

const PROCESS_SCRIPT = `
pid=$1
dir=$2
kill -CONT "$pid" 2>/dev/null
kill -KILL "$pid" 2>/dev/null
[ -n "$dir" ] && rm -rf -- "$dir"
`;

/**
 * The same promise for any other throwaway server process (an etcd member):
 * once its owner is gone, however it died, the process is killed (resumed
 * first, should a test have paused it) and `dir`, if given, removed.
 */
export function startProcessWatchdog(pid: number, dir = ''): ServerWatchdog {
  return startOwnerWatchdog(PROCESS_SCRIPT, [String(pid), dir]);
}

/** Runs the sh `script` (its arguments `$1...`) once the owner is gone; does nothing if released first. */
export function startOwnerWatchdog(script: string, args: string[]): ServerWatchdog {
  return watchOwner(['-c', `read -r line && exit 0\n${script}`, 'pg-percolator-watchdog', ...args]);
}
