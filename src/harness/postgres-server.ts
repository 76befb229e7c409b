import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { silentLogger, type Logger } from '../logger.js';
import { freePort } from './free-port.js';
import { postgresBinaries, postgresOsUser, SUPERUSER, SUPERUSER_PASSWORD, templateDataDir } from './postgres-binaries.js';
import { registerForCleanup, unregisterFromCleanup } from './process-cleanup.js';

const execFileAsync = promisify(execFile);

export interface PostgresServerOptions {
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string | number>;
  /** Turn off fsync (tests only: survives a process crash, not an OS crash; the benchmark keeps durability). */
  unsafeFast?: boolean;
  /** Port to try first (default: a free one); a taken port moves the server elsewhere. */
  port?: number;
  logger?: Logger;
}

const DEFAULT_SETTINGS: Record<string, string | number> = {
  listen_addresses: '127.0.0.1',
  unix_socket_directories: '',
  max_connections: 300,
  // The 2pc baseline prepares transactions; harmless for everything else.
  max_prepared_transactions: 200,
  shared_buffers: '128MB',
};

/** The postmaster could not listen on its port (someone else took it first). */
class PortTakenError extends Error {
  constructor(port: number) {
    super(`port ${port} was taken before postgres could bind it`);
  }
}

const BIND_FAILURE = /could not bind|Address already in use|could not create any TCP\/IP sockets/i;

/**
 * One real, throwaway PostgreSQL server on a free loopback port, in its own
 * data directory copied from a template. It can be killed (any signal),
 * paused and restarted on the same port and data, for fault tests; `destroy`
 * stops it and removes its files. A server that outlives its test is killed
 * and removed when the process exits.
 */
export class PostgresServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private everStarted = false;

  private constructor(
    private currentPort: number,
    readonly dataDir: string,
    private readonly settings: Record<string, string | number>,
    private readonly logger: Logger,
  ) {}

  static async create(options: PostgresServerOptions = {}): Promise<PostgresServer> {
    const template = await templateDataDir();
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pg-percolator', 'shard-'));
    await execFileAsync('cp', ['-a', `${template}/.`, dataDir]);
    const owner = await postgresOsUser();
    if (owner) await fs.chown(dataDir, owner.uid, owner.gid);
    await fs.chmod(dataDir, 0o700);
    const settings = {
      ...DEFAULT_SETTINGS,
      ...(options.unsafeFast ? { fsync: 'off', full_page_writes: 'off' } : {}),
      ...options.settings,
    };
    const server = new PostgresServer(options.port ?? (await freePort()), dataDir, settings, options.logger ?? silentLogger);
    registerForCleanup(server);
    await server.start();
    return server;
  }

  /** The loopback port; fixed once the server has started (restarts reuse it). */
  get port(): number {
    return this.currentPort;
  }

  /** `postgres://` URL of the `postgres` database on this server. */
  get url(): string {
    return this.urlFor('postgres');
  }

  urlFor(database: string): string {
    return `postgres://${SUPERUSER}:${SUPERUSER_PASSWORD}@127.0.0.1:${this.port}/${database}`;
  }

  get pid(): number | undefined {
    const child = this.child;
    return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  get running(): boolean {
    return this.pid !== undefined;
  }

  /**
   * Starts the postmaster. A free port is only free until someone binds it:
   * another process (a parallel test file, another checkout's suite) may take
   * it between our probe and the postmaster's bind. The first start therefore
   * moves to another port when the bind fails, and readiness is only declared
   * once the server that answers is ours (its data directory), never a
   * neighbour that happens to listen there with the same password.
   */
  async start(): Promise<void> {
    if (this.running) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.spawnAndWait();
        this.everStarted = true;
        return;
      } catch (error) {
        if (!(error instanceof PortTakenError) || this.everStarted || attempt >= 5) throw error;
        this.logger.debug({ port: this.port, attempt }, 'port taken by another server; trying another');
        this.currentPort = await freePort();
      }
    }
  }

  private async spawnAndWait(): Promise<void> {
    const { postgres } = await postgresBinaries();
    const owner = await postgresOsUser();
    const args = ['-D', this.dataDir, '-p', String(this.port)];
    for (const [name, value] of Object.entries(this.settings)) args.push('-c', `${name}=${value}`);
    const child = spawn(postgres, args, { ...owner, stdio: ['ignore', 'ignore', 'pipe'], env: { LC_ALL: 'C.UTF-8' } });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
      this.logger.trace({ port: this.port, pg: chunk.toString() }, 'postgres output');
    });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await this.waitUntilReady(() => stderr);
    this.logger.debug({ port: this.port, pid: child.pid }, 'postgres started');
  }

  private async waitUntilReady(stderr: () => string): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (!this.running) {
        if (BIND_FAILURE.test(stderr())) throw new PortTakenError(this.port);
        throw new Error(`postgres on port ${this.port} exited during start: ${stderr()}`);
      }
      const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 1000 });
      try {
        await client.connect();
        const { rows } = await client.query<{ data_directory: string }>('show data_directory');
        if (rows[0]?.data_directory === this.dataDir) return;
        // Somebody else's server on our port: ours will fail to bind and exit.
        throw new Error(`port ${this.port} is served by ${rows[0]?.data_directory}`);
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`postgres on port ${this.port} not ready after 30 s: ${String(error)}\n${stderr()}`);
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        await client.end().catch(() => {});
      }
    }
  }

  /** Sends a signal to the postmaster (SIGKILL simulates a crash; SIGSTOP/SIGCONT a pause). */
  signal(signal: NodeJS.Signals): void {
    const pid = this.pid;
    if (pid !== undefined) process.kill(pid, signal);
  }

  /** SIGCONT to the postmaster and its children (best effort): undoes a test's SIGSTOP of the tree. */
  private resumeTree(): void {
    const pid = this.pid;
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGCONT');
      execFileSync('pkill', ['-CONT', '-P', String(pid)], { stdio: 'ignore' });
    } catch {
      /* gone, or no children: nothing to resume */
    }
  }

  /** Crash: SIGKILL the postmaster and its backends, as a power cut would. */
  async kill(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    this.signal('SIGKILL');
    await this.exited;
    // Orphaned backends die when they notice the postmaster is gone; make sure.
    await execFileAsync('pkill', ['-KILL', '-f', `-D ${this.dataDir}`]).catch(() => {});
    await execFileAsync('pkill', ['-KILL', '-P', String(pid)]).catch(() => {});
    await fs.rm(path.join(this.dataDir, 'postmaster.pid'), { force: true });
  }

  /** Clean shutdown (fast mode: aborts open transactions, checkpoints). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.signal('SIGINT');
    await this.exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stops the server and removes its data directory. */
  async destroy(): Promise<void> {
    // A paused (SIGSTOPped) server would neither stop nor die with its backends: resume it first.
    this.resumeTree();
    await this.stop().catch(() => this.kill());
    unregisterFromCleanup(this);
    await fs.rm(this.dataDir, { recursive: true, force: true });
  }

  /** Synchronous last-resort cleanup for process exit. */
  destroySync(): void {
    this.resumeTree();
    try {
      this.signal('SIGKILL');
    } catch {
      /* already gone */
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
