import { execFileSync } from 'node:child_process';
import type { PostgresServer } from '../../src/harness/postgres-server.js';

/** SIGSTOP (or SIGCONT) a server's postmaster and every process it forked (backends, a standby's walreceiver). */
export function pauseTree(server: PostgresServer, signal: 'STOP' | 'CONT'): void {
  const pid = server.pid;
  if (pid === undefined) return;
  process.kill(pid, `SIG${signal}`);
  try {
    execFileSync('pkill', [`-${signal}`, '-P', String(pid)], { stdio: 'ignore' });
  } catch {
    // no children
  }
}
