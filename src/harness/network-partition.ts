import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { registerForCleanup, unregisterFromCleanup } from './process-cleanup.js';
import { startOwnerWatchdog, type ServerWatchdog } from './server-watchdog.js';

const run = promisify(execFile);
let tables = 0;

/**
 * Why network partitions cannot be made here (no `nft`, or the kernel
 * refuses it: no CAP_NET_ADMIN), or undefined when they can. Tests that need
 * them skip with this message.
 */
export async function partitionsUnavailable(): Promise<string | undefined> {
  const probe = `percolator_probe_${process.pid}`;
  try {
    await run('nft', ['add', 'table', 'inet', probe]);
    await run('nft', ['delete', 'table', 'inet', probe]);
    return undefined;
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'nft is not installed (Debian: apt-get install nftables)' : String((error as { stderr?: string }).stderr ?? error).trim();
    return `network partitions need nftables and CAP_NET_ADMIN (root): ${reason}`;
  }
}

/**
 * Real packet loss between this host's processes and chosen servers: an
 * nftables table of this process drops every TCP segment to or from the
 * given loopback ports, in both directions, so connections to the server
 * hang (nothing is refused or reset) until healed, as across a cut link;
 * or (`lose`) drops a random share of them, as on a lossy link.
 * A server is cut from everyone on the host: its clients, and its peers
 * when its peer port is cut too. The table is removed by `destroy()`, on
 * exit, and by a watchdog if this process is killed.
 */
export class NetworkPartition {
  private readonly cut = new Set<number>();
  /** Lossy ports and the percent of their segments dropped; each percent has a set of its own (`loss_P`) and a rule over it. */
  private readonly lossy = new Map<number, number>();
  private readonly lossSets = new Set<number>();
  private readonly cleanup = { destroySync: () => this.destroySync() };
  private readonly watchdog: ServerWatchdog;

  private constructor(private readonly table: string) {
    registerForCleanup(this.cleanup);
    this.watchdog = startOwnerWatchdog('nft delete table inet "$1" 2>/dev/null', [table]);
  }

  static async create(): Promise<NetworkPartition> {
    const table = `percolator_partition_${process.pid}_${tables++}`;
    await nft(`add table inet ${table}`);
    const partition = new NetworkPartition(table);
    try {
      // Output only: every loopback segment is sent (output) before it is received, so dropping it here drops it.
      await nft(`add chain inet ${table} cut { type filter hook output priority 0 ; policy accept ; }`);
      await nft(`add set inet ${table} ports { type inet_service ; }`);
      await nft(`add rule inet ${table} cut tcp dport @ports drop`);
      await nft(`add rule inet ${table} cut tcp sport @ports drop`);
    } catch (error) {
      await partition.destroy();
      throw error;
    }
    return partition;
  }

  /** The ports cut now. */
  get ports(): number[] {
    return [...this.cut];
  }

  /** Drops every TCP segment to or from these ports from now on (connections stay open, unanswered). */
  async isolate(...ports: number[]): Promise<void> {
    const fresh = ports.filter((p) => !this.cut.has(p));
    if (fresh.length === 0) return;
    await nft(`add element inet ${this.table} ports { ${fresh.join(', ')} }`);
    for (const port of fresh) this.cut.add(port);
  }

  /** The ports losing packets now, with the percent lost. */
  get losses(): ReadonlyMap<number, number> {
    return new Map(this.lossy);
  }

  /**
   * Drops a random `percent` of the TCP segments to or from these ports
   * (each segment drawn apart, both directions), as on a lossy link: TCP
   * retransmits, so connections slow down rather than hang. A port keeps
   * one loss rate: lose it again with another percent to change it.
   */
  async lose(percent: number, ...ports: number[]): Promise<void> {
    if (!Number.isInteger(percent) || percent < 1 || percent > 99) throw new RangeError(`loss percent must be an integer in 1..99, not ${percent}`);
    const set = `loss_${percent}`;
    if (!this.lossSets.has(percent)) {
      await nft(`add set inet ${this.table} ${set} { type inet_service ; }`);
      if (this.lossSets.size === 0) await nft(`add counter inet ${this.table} lost`);
      await nft(`add rule inet ${this.table} cut tcp dport @${set} numgen random mod 100 < ${percent} counter name lost drop`);
      await nft(`add rule inet ${this.table} cut tcp sport @${set} numgen random mod 100 < ${percent} counter name lost drop`);
      this.lossSets.add(percent);
    }
    await this.restore(...ports.filter((p) => this.lossy.has(p) && this.lossy.get(p) !== percent));
    const fresh = ports.filter((p) => !this.lossy.has(p));
    if (fresh.length === 0) return;
    await nft(`add element inet ${this.table} ${set} { ${fresh.join(', ')} }`);
    for (const port of fresh) this.lossy.set(port, percent);
  }

  /** How many segments `lose` has dropped so far (so a test can tell the loss bit, and stopped). */
  async lostSegments(): Promise<number> {
    if (this.lossSets.size === 0) return 0;
    const { stdout } = await run('nft', ['-j', 'list', 'counter', 'inet', this.table, 'lost']);
    const counter = (JSON.parse(stdout) as { nftables: Array<{ counter?: { packets: number } }> }).nftables.find((o) => o.counter);
    return counter?.counter?.packets ?? 0;
  }

  /** Lets these ports' traffic through again, cut or lossy (all of them by default). */
  async heal(...ports: number[]): Promise<void> {
    const healed = (ports.length > 0 ? ports : [...this.cut]).filter((p) => this.cut.has(p));
    if (healed.length > 0) await nft(`delete element inet ${this.table} ports { ${healed.join(', ')} }`);
    for (const port of healed) this.cut.delete(port);
    await this.restore(...(ports.length > 0 ? ports : this.lossy.keys()));
  }

  /** Ends the loss on these ports. */
  private async restore(...ports: number[]): Promise<void> {
    for (const port of ports) {
      const percent = this.lossy.get(port);
      if (percent === undefined) continue;
      await nft(`delete element inet ${this.table} loss_${percent} { ${port} }`);
      this.lossy.delete(port);
    }
  }

  async destroy(): Promise<void> {
    await nft(`delete table inet ${this.table}`).catch(() => {});
    this.cut.clear();
    this.lossy.clear();
    this.release();
  }

  private destroySync(): void {
    try {
      execFileSync('nft', ['delete', 'table', 'inet', this.table], { stdio: 'ignore' });
    } catch {
      // already gone
    }
    this.release();
  }

  private release(): void {
    unregisterFromCleanup(this.cleanup);
    this.watchdog.release();
  }
}

async function nft(command: string): Promise<void> {
  await run('nft', [command]);
}

/** The port of a `host:port` address. */
export function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}
