import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { silentLogger, type Logger } from '../logger.js';
import { freePort } from './free-port.js';
import { conninfoValue, makeStandbyDataDir, standbyName } from './base-backup.js';
import { harnessRoot, lastLines, postgresBinaries, postgresOsUser, runPostgresTool, SUPERUSER, templateDataDir } from './postgres-binaries.js';
import { registerForCleanup, unregisterFromCleanup } from './process-cleanup.js';
import { startWatchdog, type ServerWatchdog } from './server-watchdog.js';

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

/** Options of PostgresServer.addStandby(). */
export interface StandbyOptions {
  /**
   * The primary waits for this standby (with any other synchronous ones:
   * `synchronous_standby_names = 'ANY 1 (...)'`) before a commit returns.
   * Default true.
   */
  synchronous?: boolean;
}

const DEFAULT_SETTINGS: Record<string, string | number> = {
  listen_addresses: '127.0.0.1',
  unix_socket_directories: '',
  max_connections: 300,
  // The 2pc baseline prepares transactions; harmless for everything else.
  max_prepared_transactions: 200,
  shared_buffers: '128MB',
};

/** Lines of the server's own log (its stderr) quoted when it fails to start. */
const LOG_LINES_ON_FAILURE = 30;

/** The postmaster could not listen on its port (someone else took it first). */
class PortTakenError extends Error {
  constructor(port: number) {
    super(`port ${port} was taken before postgres could bind it`);
  }
}

const BIND_FAILURE = /could not bind|Address already in use|could not create any TCP\/IP sockets/i;

/**
 * One real, throwaway PostgreSQL server on a free loopback port, in its own
 * data directory (under the per-user cache, see cache-dir.ts) copied from a
 * template. Its superuser has a random password of its own, set at its first
 * start. It can be killed (any signal), paused and restarted on the same
 * port and data, for fault tests; `destroy` stops it and removes its files.
 * A server that outlives its test is killed and removed when the process
 * exits, and a watchdog process does the same if that process is killed
 * outright (SIGKILL).
 */
export class PostgresServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private everStarted = false;
  /** application_name of this primary's synchronous standbys (its synchronous_standby_names). */
  private readonly synchronousStandbys: string[] = [];

  private constructor(
    private currentPort: number,
    readonly dataDir: string,
    /** The template's password until the first start replaces it with this server's own. */
    private password: string,
    private readonly settings: Record<string, string | number>,
    private readonly logger: Logger,
    private readonly watchdog: ServerWatchdog,
  ) {}

  static async create(options: PostgresServerOptions = {}): Promise<PostgresServer> {
    const template = await templateDataDir();
    // Named after this process: a later run removes it if this one was killed outright (stale-data-dirs.ts).
    const dataDir = await fs.mkdtemp(path.join(harnessRoot(), `shard-${process.pid}-`));
    const watchdog = startWatchdog(dataDir);
    const settings = {
      ...DEFAULT_SETTINGS,
      ...(options.unsafeFast ? { fsync: 'off', full_page_writes: 'off' } : {}),
      ...options.settings,
    };
    const server = new PostgresServer(options.port ?? (await freePort()), dataDir, template.password, settings, options.logger ?? silentLogger, watchdog);
    registerForCleanup(server);
    try {
      await execFileAsync('cp', ['-a', `${template.dataDir}/.`, dataDir]);
      const owner = await postgresOsUser();
      if (owner) await fs.chown(dataDir, owner.uid, owner.gid);
      await fs.chmod(dataDir, 0o700);
      await server.start();
      await server.setOwnPassword();
    } catch (error) {
      await server.destroy().catch(() => {});
      throw error;
    }
    return server;
  }

  /** Replaces the template's password (shared by every server of this user) with a random one for this server only. */
  private async setOwnPassword(): Promise<void> {
    const password = randomBytes(18).toString('base64url');
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 10_000 });
    await client.connect();
    try {
      await client.query(`ALTER ROLE ${SUPERUSER} PASSWORD '${password}'`);
    } finally {
      await client.end();
    }
    this.password = password;
  }

  /**
   * A streaming-replication standby of this (running) server, in a data
   * directory of its own, as `pg_basebackup -R` would make it
   * (base-backup.ts), with this server's settings and password, and a
   * watchdog of its own: it goes when its owner process goes, like any
   * throwaway server. Resolves once it streams, and, when `synchronous`,
   * once this server waits for it at every commit (its
   * `synchronous_standby_names` is changed with ALTER SYSTEM and reloaded).
   * A synchronous standby that stops makes this server's commits wait until
   * it is back.
   */
  async addStandby(options: StandbyOptions = {}): Promise<PostgresServer> {
    const synchronous = options.synchronous ?? true;
    const dataDir = await fs.mkdtemp(path.join(harnessRoot(), `shard-${process.pid}-`));
    const watchdog = startWatchdog(dataDir);
    const name = standbyName();
    const standby = new PostgresServer(await freePort(), dataDir, this.password, { ...this.settings }, this.logger, watchdog);
    registerForCleanup(standby);
    try {
      const conninfo = `host=127.0.0.1 port=${this.port} user=${SUPERUSER} password=${conninfoValue(this.password)} application_name=${name}`;
      await makeStandbyDataDir({ primaryUrl: this.url, primaryDataDir: this.dataDir, targetDir: dataDir, slotName: name, primaryConninfo: conninfo });
      const owner = await postgresOsUser();
      if (owner) await execFileAsync('chown', ['-R', `${owner.uid}:${owner.gid}`, dataDir]);
      await fs.chmod(dataDir, 0o700);
      await standby.start();
      if (synchronous) {
        this.synchronousStandbys.push(name);
        await this.query(`alter system set synchronous_standby_names = 'ANY 1 (${this.synchronousStandbys.join(', ')})'`);
        await this.query('select pg_reload_conf()');
      }
      await this.waitForStandby(name, synchronous);
    } catch (error) {
      await standby.destroy().catch(() => {});
      throw error;
    }
    this.logger.debug({ primary: this.port, standby: standby.port, synchronous }, 'standby streaming');
    return standby;
  }

  /** Until pg_stat_replication shows the standby streaming (and, if `synchronous`, waited for). */
  private async waitForStandby(name: string, synchronous: boolean): Promise<void> {
    const deadline = Date.now() + 30_000;
    let last = 'not connected';
    for (;;) {
      const rows = await this.query<{ state: string; sync_state: string }>('select state, sync_state from pg_stat_replication where application_name = $1', [name]);
      const row = rows[0];
      if (row) last = `${row.state}, ${row.sync_state}`;
      if (row?.state === 'streaming' && (!synchronous || row.sync_state === 'sync' || row.sync_state === 'quorum')) return;
      if (Date.now() > deadline) throw new Error(`standby ${name} of the server on port ${this.port} is not ${synchronous ? 'a streaming synchronous standby' : 'streaming'} after 30 s (${last})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Promotes this standby to a primary (`pg_ctl promote`, waiting until it
   * accepts writes), as a failover tool would once the primary is lost.
   * Fencing the old primary is the caller's business.
   */
  async promote(): Promise<void> {
    const { pg_ctl } = await postgresBinaries();
    await runPostgresTool(pg_ctl, ['promote', '-D', this.dataDir, '-w', '-t', '30'], await postgresOsUser());
  }

  /** True while the server is a standby (in recovery). */
  async inRecovery(): Promise<boolean> {
    return (await this.query<{ r: boolean }>('select pg_is_in_recovery() as r'))[0]!.r;
  }

  /**
   * URL naming this server and `standbys` (libpq's multi-host form, with
   * `target_session_attrs=read-write`): what the client connects to the
   * primary of a shard with (src/shard/shard-address.ts). Standbys share
   * this server's password.
   */
  multiHostUrl(standbys: readonly PostgresServer[], database = 'postgres'): string {
    const hosts = [this, ...standbys].map((s) => `127.0.0.1:${s.port}`).join(',');
    return `postgres://${SUPERUSER}:${encodeURIComponent(this.password)}@${hosts}/${database}?target_session_attrs=read-write`;
  }

  /** One statement on a connection of its own (harness bookkeeping). */
  private async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 10_000 });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query<R>(text, values)).rows;
    } finally {
      await client.end().catch(() => {});
    }
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
    return `postgres://${SUPERUSER}:${encodeURIComponent(this.password)}@127.0.0.1:${this.port}/${database}`;
  }

  /** Creates the database `name` (a plain identifier) on this server; its URL. */
  async createDatabase(name: string): Promise<string> {
    const client = new pg.Client(this.url);
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return this.urlFor(name);
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
   * neighbour that happens to listen there.
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
    let log = '';
    let how = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-16_000);
      this.logger.trace({ port: this.port, pg: chunk.toString() }, 'postgres output');
    });
    this.exited = new Promise((resolve) => {
      // A binary it may not execute (EACCES) is an 'error', not an exit: without a listener it would crash the process.
      child.once('error', (error) => {
        how ||= `could not run ${postgres}: ${error.message}`;
        resolve();
      });
      child.once('exit', (code, signal) => {
        how ||= signal ? `killed by ${signal}` : `exit code ${code}`;
        resolve();
      });
    });
    // 'close' comes after the last of its output (or never, while orphaned backends hold the pipe).
    const outputEnded = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const failure = (what: string): Error =>
      new Error(`postgres on port ${this.port} (data ${this.dataDir}) ${what}\n--- last lines of its log ---\n${lastLines(log, LOG_LINES_ON_FAILURE) || '(empty)'}`);
    await this.waitUntilReady(async () => {
      await Promise.race([outputEnded, sleep(1000)]);
      if (BIND_FAILURE.test(log)) return new PortTakenError(this.port);
      return failure(`exited during start (${how})`);
    }, (error) => failure(`not ready after 30 s: ${String(error)}`));
    this.logger.debug({ port: this.port, pid: child.pid }, 'postgres started');
  }

  private async waitUntilReady(exited: () => Promise<Error>, timedOut: (error: unknown) => Error): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (!this.running) throw await exited();
      const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 1000 });
      client.on('error', () => {});
      try {
        await client.connect();
        const { rows } = await client.query<{ data_directory: string }>('show data_directory');
        if (rows[0]?.data_directory === this.dataDir) return;
        // Somebody else's server on our port: ours will fail to bind and exit.
        throw new Error(`port ${this.port} is served by ${rows[0]?.data_directory}`);
      } catch (error) {
        if (Date.now() > deadline) {
          this.signal('SIGKILL'); // a server that did not come up in time is not left behind
          throw timedOut(error);
        }
        await sleep(50);
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
    this.watchdog.release();
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
