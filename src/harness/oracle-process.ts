import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { silentLogger, type Logger } from '../logger.js';
import { compiledPath, packageRoot } from '../package-root.js';
import { registerForCleanup, unregisterFromCleanup } from './process-cleanup.js';

export interface OracleProcessOptions {
  /** postgres:// URL of the meta database. */
  metaUrl: string;
  /** host:port; default 127.0.0.1:0 (a free port, kept across restarts). */
  listen?: string;
  /** Only wait until it listens (a standby), not until it leads. */
  standby?: boolean;
  /** Extra `percolator oracle` arguments, e.g. ['--lease', '1s', '--token', 't']. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** How long start/restart may take (leadership may wait for an old lease to run out). Default 30 s. */
  startTimeoutMs?: number;
}

export type OracleProcessRole = 'starting' | 'follower' | 'leader' | 'exited';

export interface OracleProcess {
  /** gRPC host:port (the same across restarts). */
  readonly address: string;
  readonly pid: number;
  readonly role: OracleProcessRole;
  readonly metricsAddress: string | undefined;
  /** The last few KB the process wrote to stderr (logs, warnings). */
  readonly stderr: string;
  /** Sends a signal (default SIGKILL). Terminating signals wait for the exit; SIGSTOP/SIGCONT return at once. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM: the oracle stops serving, releases its lease and exits. */
  stop(): Promise<void>;
  /** Stops it if it runs, then starts it again on the same address. */
  restart(options?: { standby?: boolean }): Promise<void>;
  /** Resolves once the process reports `role` (at once if it already has it). */
  waitForRole(role: 'leader' | 'follower', timeoutMs?: number): Promise<void>;
}

/**
 * A real `percolator oracle` child process (from dist/: build first). It
 * never outlives the process that started it (process-cleanup).
 */
export async function startOracleProcess(options: OracleProcessOptions): Promise<OracleProcess> {
  const handle = new OracleProcessHandle(options);
  await handle.start(options.standby ?? false);
  return handle;
}

class OracleProcessHandle implements OracleProcess {
  role: OracleProcessRole = 'starting';
  metricsAddress: string | undefined;
  private listen: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stderrTail = '';
  private roleWaiters: Array<() => void> = [];
  private readonly logger: Logger;
  private readonly cleanup = { destroySync: () => this.signalQuietly('SIGKILL') };

  constructor(private readonly options: OracleProcessOptions) {
    this.listen = options.listen ?? '127.0.0.1:0';
    this.logger = (options.logger ?? silentLogger).child({ component: 'oracle-process' });
  }

  get address(): string {
    return this.listen;
  }

  get stderr(): string {
    return this.stderrTail;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  async start(standby: boolean): Promise<void> {
    if (this.child && this.role !== 'exited') return;
    const bin = path.join(packageRoot(), 'bin', 'percolator.js');
    if (!existsSync(compiledPath('src/cli/main'))) throw new Error('dist/ is missing: run `npm run build` before starting oracle processes');
    const args = [bin, 'oracle', '--meta', this.options.metaUrl, '--listen', this.listen, '--parent-pid', String(process.pid), ...(this.options.args ?? [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.options.env } });
    this.child = child;
    this.role = 'starting';
    this.stderrTail = '';
    registerForCleanup(this.cleanup);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.logger.debug({ pid: child.pid, code, signal }, 'oracle process exited');
        this.role = 'exited';
        unregisterFromCleanup(this.cleanup);
        this.notifyRoleWaiters();
        resolve();
      }),
    );
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-4000);
      this.logger.trace({ pid: child.pid, stderr: chunk.toString() }, 'oracle stderr');
    });
    let listening = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let event: { event?: string; address?: string; metrics?: string | null };
      try {
        event = JSON.parse(line);
      } catch {
        return;
      }
      this.logger.debug({ pid: child.pid, ...event }, 'oracle event');
      if (event.event === 'listening') {
        listening = true;
        this.listen = event.address!;
        this.metricsAddress = event.metrics ?? undefined;
        if (this.role === 'starting') this.role = 'follower';
      } else if (event.event === 'leader' || event.event === 'follower') {
        this.role = event.event;
      }
      this.notifyRoleWaiters();
    });
    const timeoutMs = this.options.startTimeoutMs ?? 30_000;
    try {
      await this.waitUntil(() => (standby ? listening : this.role === 'leader'), timeoutMs, standby ? 'listening' : 'leading');
    } catch (error) {
      await this.kill('SIGKILL'); // a process that did not come up in time is not left behind
      throw error;
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.signalQuietly(signal)) return;
    if (signal !== 'SIGSTOP' && signal !== 'SIGCONT' && signal !== 'SIGTSTP') await this.exited;
  }

  async stop(): Promise<void> {
    if (!this.signalQuietly('SIGCONT')) return;
    this.signalQuietly('SIGTERM');
    const timer = setTimeout(() => this.signalQuietly('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }

  async restart(options?: { standby?: boolean }): Promise<void> {
    await this.stop();
    await this.start(options?.standby ?? this.options.standby ?? false);
  }

  waitForRole(role: 'leader' | 'follower', timeoutMs = 30_000): Promise<void> {
    return this.waitUntil(() => this.role === role, timeoutMs, `role ${role}`);
  }

  private waitUntil(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (done()) {
          finish();
          resolve();
        } else if (this.role === 'exited') {
          finish();
          reject(new Error(`oracle process exited before ${what}: ${this.stderrTail.trim()}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`oracle process not ${what} after ${timeoutMs} ms: ${this.stderrTail.trim()}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.roleWaiters = this.roleWaiters.filter((w) => w !== check);
      };
      this.roleWaiters.push(check);
      check();
    });
  }

  private notifyRoleWaiters(): void {
    for (const waiter of [...this.roleWaiters]) waiter();
  }

  /** Returns false when there is no live process to signal. */
  private signalQuietly(signal: NodeJS.Signals): boolean {
    const child = this.child;
    if (!child || this.role === 'exited' || child.pid === undefined) return false;
    try {
      process.kill(child.pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}
