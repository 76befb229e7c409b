/**
 * CPU time per committed transaction, summed over every process involved:
 * the benchmark client (process.cpuUsage: all its threads), the oracle and
 * every Postgres server. A Postgres server is a postmaster plus one backend
 * process per connection (and background workers); backends come and go, so
 * a server's CPU is read from /proc as
 *   utime + stime of the postmaster
 *   + utime + stime (+ their own reaped children) of every live child
 *   + cutime + cstime of the postmaster: children that exited and were reaped.
 * A backend alive at the first sample and reaped before the second moves
 * from the "live children" term to cutime with its whole lifetime's CPU, so
 * the difference between two samples is the CPU spent in between. (A child
 * that exited but is not reaped yet, a zombie, still shows its own times.)
 */
import { readFileSync, readdirSync } from 'node:fs';

export interface CpuProcess {
  /** relay: a delay relay of --rtt-ms, simulating the network; counted apart, not in the total. */
  readonly role: 'postgres' | 'oracle' | 'relay';
  readonly label: string;
  readonly pid: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ; 100 on every Linux we run on (getconf CLK_TCK)
const MS_PER_TICK = 1000 / TICKS_PER_SECOND;

interface ProcStat {
  /** R, S, D, ...; Z for a process that exited and waits to be reaped. */
  state: string;
  ppid: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
}

export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14.
  const at = (field: number): number => Number(fields[field - 3]);
  return { state: fields[0]!, ppid: at(4), utime: at(14), stime: at(15), cutime: at(16), cstime: at(17) };
}

export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // Kernels without CONFIG_PROC_CHILDREN: scan every process's parent.
    const out: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      if (readProcStat(Number(entry))?.ppid === pid) out.push(Number(entry));
    }
    return out;
  }
}

/** CPU milliseconds of a process and all its descendants, live and reaped; undefined if the process is gone. */
export function processTreeCpuMs(pid: number): number | undefined {
  const self = readProcStat(pid);
  if (!self) return undefined;
  let ticks = self.utime + self.stime + self.cutime + self.cstime;
  for (const child of childPids(pid)) ticks += (processTreeCpuMs(child) ?? 0) / MS_PER_TICK;
  return ticks * MS_PER_TICK;
}

export function clientCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

export interface CpuSample {
  readonly clientMs: number;
  readonly byPid: ReadonlyMap<number, number>;
}

export function sampleCpu(processes: readonly CpuProcess[]): CpuSample {
  return { clientMs: clientCpuMs(), byPid: new Map(processes.map((p) => [p.pid, processTreeCpuMs(p.pid) ?? 0])) };
}

export interface CpuSpent {
  readonly clientMs: number;
  readonly oracleMs: number;
  readonly postgresMs: number;
  /** Delay relays (simulated network): not part of totalMs. */
  readonly relayMs: number;
  readonly totalMs: number;
}

export function cpuSpent(processes: readonly CpuProcess[], before: CpuSample, after: CpuSample): CpuSpent {
  let oracleMs = 0;
  let postgresMs = 0;
  let relayMs = 0;
  for (const p of processes) {
    const spent = Math.max(0, (after.byPid.get(p.pid) ?? 0) - (before.byPid.get(p.pid) ?? 0));
    if (p.role === 'oracle') oracleMs += spent;
    else if (p.role === 'relay') relayMs += spent;
    else postgresMs += spent;
  }
  const clientMs = after.clientMs - before.clientMs;
  return { clientMs, oracleMs, postgresMs, relayMs, totalMs: clientMs + oracleMs + postgresMs };
}
