import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.js';
import { registerForCleanup, unregisterFromCleanup } from './process-cleanup.js';
import { startProcessWatchdog, type ServerWatchdog } from './server-watchdog.js';

export interface EtcdMember {
  readonly name: string;
  /** host:port of its client endpoint. */
  readonly endpoint: string;
  readonly clientPort: number;
  readonly peerPort: number;
  /** -1 while it is not running. */
  readonly pid: number;
}

/** PEM files of members that serve clients over TLS (peers still talk plain HTTP on loopback). */
export interface EtcdClusterTls {
  /** The CA the members' certificate is signed by; with clientCertAuth, also the CA client certificates must be signed by. */
  readonly cacert: string;
  /** The members' certificate (valid for 127.0.0.1) and key. */
  readonly cert: string;
  readonly key: string;
  /** Refuse clients without a certificate signed by `cacert` (etcd's --client-cert-auth). */
  readonly clientCertAuth?: boolean;
  /** The certificate and key `url()` names for clients (with clientCertAuth). */
  readonly clientCert?: string;
  readonly clientKey?: string;
}

/** Where the etcd binary is: `PERCOLATOR_ETCD`, else `etcd` on the PATH (Debian's etcd-server package). */
export function etcdBinary(): string | undefined {
  const candidate = process.env.PERCOLATOR_ETCD ?? 'etcd';
  const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? candidate : undefined;
}

class Member implements EtcdMember {
  child: ChildProcess | undefined;
  exited: Promise<void> = Promise.resolve();
  stderrTail = '';
  watchdog: ServerWatchdog | undefined;
  /** Should be running: started and not killed on purpose since. */
  expected = false;

  constructor(
    readonly name: string,
    readonly clientPort: number,
    readonly peerPort: number,
    /** Plain-HTTP /health of a member that serves clients over TLS; undefined without TLS (health is asked on the client port). */
    readonly metricsPort: number | undefined,
  ) {}

  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`;
  }

  get pid(): number {
    return this.child?.exitCode === null && this.child.signalCode === null ? (this.child.pid ?? -1) : -1;
  }
}

/**
 * A throwaway etcd cluster of real `etcd` processes on loopback ports, for
 * the oracle's etcd meta store in tests. Members can be killed, paused and
 * restarted on their data directories; the cluster never outlives the
 * process that started it (process-cleanup and a watchdog per member).
 */
export class EtcdCluster {
  private readonly cleanup = { destroySync: () => this.destroySync() };

  private constructor(
    private readonly binary: string,
    private readonly dir: string,
    private readonly token: string,
    private readonly all: Member[],
    private readonly tls: EtcdClusterTls | undefined,
  ) {}

  static async start(options: { members?: number; tls?: EtcdClusterTls } = {}): Promise<EtcdCluster> {
    const binary = etcdBinary();
    if (!binary) throw new Error('etcd not found: install it (Debian: apt-get install etcd-server) or set PERCOLATOR_ETCD to its path');
    // A free port may be taken by another process before etcd binds it: start again on new ports.
    for (let attempt = 1; ; attempt++) {
      try {
        return await EtcdCluster.startOnce(binary, options.members ?? 3, options.tls);
      } catch (error) {
        if (attempt >= 3) throw error;
      }
    }
  }

  private static async startOnce(binary: string, count: number, tls: EtcdClusterTls | undefined): Promise<EtcdCluster> {
    const members: Member[] = [];
    for (let i = 0; i < count; i++) members.push(new Member(`m${i}`, await freePort(), await freePort(), tls ? await freePort() : undefined));
    const cluster = new EtcdCluster(binary, mkdtempSync(path.join(os.tmpdir(), 'percolator-etcd-')), randomUUID(), members, tls);
    registerForCleanup(cluster.cleanup);
    try {
      for (let i = 0; i < count; i++) cluster.spawnMember(i);
      await cluster.waitHealthy();
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
    return cluster;
  }

  get members(): readonly EtcdMember[] {
    return this.all;
  }

  /** The running members' client endpoints, host:port. */
  get endpoints(): string[] {
    return this.all.map((m) => m.endpoint);
  }

  /** An `etcd://` URL naming every member, with a key prefix (a fresh one unless given); `etcds://` with the TLS files for a TLS cluster. */
  url(prefix = `/percolator-test/${randomUUID().slice(0, 8)}`): string {
    if (!this.tls) return `etcd://${this.endpoints.join(',')}${prefix}`;
    const files = Object.entries({ cacert: this.tls.cacert, cert: this.tls.clientCert, key: this.tls.clientKey }).filter(([, file]) => file !== undefined);
    return `etcds://${this.endpoints.join(',')}${prefix}?${files.map(([name, file]) => `${name}=${encodeURIComponent(file!)}`).join('&')}`;
  }

  /** Sends a signal to a member (default SIGKILL); terminating signals wait for the exit. */
  async kill(index: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const member = this.all[index]!;
    if (member.pid < 0) return;
    if (signal !== 'SIGSTOP' && signal !== 'SIGCONT') member.expected = false;
    process.kill(member.pid, signal);
    if (signal !== 'SIGSTOP' && signal !== 'SIGCONT') await member.exited;
  }

  /** Starts stopped members again on their data directories (all of them by default), and waits for a healthy cluster. */
  async restart(...indices: number[]): Promise<void> {
    for (const index of indices.length > 0 ? indices : this.all.map((_m, i) => i)) {
      if (this.all[index]!.pid < 0) this.spawnMember(index);
    }
    await this.waitHealthy();
  }

  /** Index of the member that leads the cluster now (asked of the running members). */
  async leaderIndex(): Promise<number> {
    const statuses = await Promise.all(this.all.map((m) => (m.pid >= 0 ? this.status(m).catch(() => undefined) : undefined)));
    const leaderId = statuses.find((s) => s && s.leader !== '0')?.leader;
    const index = statuses.findIndex((s) => s !== undefined && s.header.member_id === leaderId);
    if (index < 0) throw new Error('no running etcd member knows a leader');
    return index;
  }

  /** Resolves once every running member answers /health and a leader is elected. */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const giveUpAt = Date.now() + timeoutMs;
    for (;;) {
      const running = this.all.filter((m) => m.pid >= 0);
      const healthy = await Promise.all(running.map((m) => this.healthy(m)));
      if (running.length > 0 && healthy.every(Boolean)) return;
      const dead = this.all.find((m) => m.expected && m.pid < 0);
      if (dead) throw new Error(`etcd member ${dead.name} exited: ${dead.stderrTail.trim().slice(-1500)}`);
      if (Date.now() > giveUpAt) throw new Error(`etcd cluster not healthy after ${timeoutMs} ms: ${running.map((m) => `${m.name}: ${m.stderrTail.slice(-300)}`).join('\n')}`);
      await sleep(100);
    }
  }

  async destroy(): Promise<void> {
    await Promise.all(this.all.map((m, i) => (m.pid >= 0 ? (process.kill(m.pid, 'SIGCONT'), this.kill(i, 'SIGKILL')) : undefined)));
    this.destroySync();
  }

  private destroySync(): void {
    for (const member of this.all) {
      member.expected = false;
      if (member.pid >= 0) {
        try {
          process.kill(member.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      member.watchdog?.release();
    }
    unregisterFromCleanup(this.cleanup);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private spawnMember(index: number): void {
    const member = this.all[index]!;
    const peer = (m: Member): string => `http://127.0.0.1:${m.peerPort}`;
    const client = `${this.tls ? 'https' : 'http'}://${member.endpoint}`;
    const tls = this.tls;
    const tlsArgs = tls
      ? ['--cert-file', tls.cert, '--key-file', tls.key, '--trusted-ca-file', tls.cacert, ...(tls.clientCertAuth ? ['--client-cert-auth'] : []), '--listen-metrics-urls', `http://127.0.0.1:${member.metricsPort}`]
      : [];
    const args = [
      '--name', member.name,
      '--data-dir', path.join(this.dir, member.name),
      '--listen-client-urls', client,
      '--advertise-client-urls', client,
      '--listen-peer-urls', peer(member),
      '--initial-advertise-peer-urls', peer(member),
      '--initial-cluster', this.all.map((m) => `${m.name}=${peer(m)}`).join(','),
      '--initial-cluster-token', this.token,
      '--initial-cluster-state', 'new',
      '--logger', 'zap',
      '--log-level', 'warn',
      ...tlsArgs,
    ];
    const child = spawn(this.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    member.child = child;
    member.expected = true;
    member.stderrTail = '';
    member.watchdog?.release();
    member.watchdog = child.pid !== undefined ? startProcessWatchdog(child.pid) : undefined;
    child.stderr!.on('data', (chunk: Buffer) => (member.stderrTail = (member.stderrTail + chunk.toString()).slice(-4000)));
    member.exited = new Promise((resolve) =>
      child.once('exit', () => {
        member.watchdog?.release();
        member.watchdog = undefined;
        resolve();
      }),
    );
  }

  private async healthy(member: Member): Promise<boolean> {
    try {
      const at = member.metricsPort === undefined ? member.endpoint : `127.0.0.1:${member.metricsPort}`;
      const response = await fetch(`http://${at}/health`, { signal: AbortSignal.timeout(1000) });
      return ((await response.json()) as { health?: string }).health === 'true';
    } catch {
      return false;
    }
  }

  private async status(member: Member): Promise<{ header: { member_id: string }; leader: string }> {
    if (this.tls) throw new Error('the members of a TLS etcd cluster are not asked for their status (plain HTTP only)');
    const response = await fetch(`http://${member.endpoint}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) });
    return (await response.json()) as { header: { member_id: string }; leader: string };
  }
}
