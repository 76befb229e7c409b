import { setTimeout as sleep } from 'node:timers/promises';
import type { DelayRelays } from '../../bench/delay-relays.js';
import type { EtcdCluster } from '../../src/harness/etcd-cluster.js';
import { portOf, type NetworkPartition } from '../../src/harness/network-partition.js';
import type { OracleProcess } from '../../src/harness/oracle-process.js';
import type { PostgresServer } from '../../src/harness/postgres-server.js';
import { pauseTree } from '../support/pause-tree.js';

export const FAULT_KINDS = [
  'shard-kill',
  'shard-pause',
  'shard-partition',
  'shard-loss',
  'shard-delay',
  'oracle-leader-kill',
  'oracle-pause',
  'oracle-partition',
  'oracle-loss',
  'etcd-kill',
  'etcd-pause',
  'etcd-partition',
  'etcd-loss',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One fault: injected at `startedAt`, healed (process back, partition gone) at `healedAt`. */
export interface Fault {
  kind: FaultKind;
  target: string;
  startedAt: number;
  healedAt: number;
  /** Loss: segments dropped while it lasted; delay: chunks the relay held back. Shows the fault touched traffic. */
  hits?: number;
}

export interface NemesisTargets {
  shards: PostgresServer[];
  /** The oracle group (a leader and standbys). */
  oracles: OracleProcess[];
  /** The oracles' meta store. */
  etcd: EtcdCluster;
  partition: NetworkPartition;
  /** A delay relay in front of each shard (index for index), carrying all of its clients' traffic; 0 ms until a delay fault. */
  shardRelays: DelayRelays;
}

export interface NemesisSchedule {
  seed: number;
  /** How long a fault lasts before it is healed, and the quiet time after it (ms, drawn uniformly). */
  faultMs: [number, number];
  gapMs: [number, number];
}

/** mulberry32: a small seeded generator, so a failing schedule can be replayed from its seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Injects one fault at a time, on a random schedule drawn from a seed: kills
 * and restarts a shard, pauses it (SIGSTOP of the whole server), cuts it off
 * the network, drops a share of its packets, delays its traffic (through its
 * relay); kills the oracle leader (restarted as a standby), pauses, cuts off
 * or drops packets of an oracle; kills, pauses, cuts off or drops packets of
 * an etcd member (one at a time, so etcd keeps its quorum). Every fault is
 * healed before the next. Delay is on shards only: an oracle client follows
 * the leader address an oracle advertises, past any relay.
 */
export class Nemesis {
  readonly faults: Fault[] = [];
  private readonly random: () => number;
  /** Kinds still to draw this round: every kind once per round, in a seeded order, so a short run still meets most of them. */
  private bag: FaultKind[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly targets: NemesisTargets,
    private readonly schedule: NemesisSchedule,
  ) {
    this.random = seeded(schedule.seed);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops after healing the fault in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Faults injected, by kind. */
  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const f of this.faults) counts[f.kind] = (counts[f.kind] ?? 0) + 1;
    return counts;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      await sleep(this.between(this.schedule.gapMs));
      if (this.stopped) break;
      if (this.bag.length === 0) this.bag = [...FAULT_KINDS];
      const kind = this.bag.splice(Math.floor(this.random() * this.bag.length), 1)[0]!;
      const duration = this.between(this.schedule.faultMs);
      const startedAt = Date.now();
      const [target, hits] = await this.inject(kind, duration);
      this.faults.push({ kind, target, startedAt, healedAt: Date.now(), ...(hits === undefined ? {} : { hits }) });
    }
  }

  private between([low, high]: [number, number]): number {
    return low + Math.floor(this.random() * (high - low));
  }

  private pick<T>(items: readonly T[]): [T, number] {
    const index = Math.floor(this.random() * items.length);
    return [items[index]!, index];
  }

  /** Injects the fault, waits `duration`, heals it; returns what it hit (and, for loss and delay, how much traffic it touched). */
  private async inject(kind: FaultKind, duration: number): Promise<[string, number?]> {
    const { shards, oracles, etcd, partition, shardRelays } = this.targets;
    switch (kind) {
      case 'shard-kill': {
        const [shard, i] = this.pick(shards);
        await shard.kill();
        await sleep(duration);
        await shard.start();
        return [`shard ${i}`];
      }
      case 'shard-pause': {
        const [shard, i] = this.pick(shards);
        pauseTree(shard, 'STOP');
        await sleep(duration);
        pauseTree(shard, 'CONT');
        return [`shard ${i}`];
      }
      case 'shard-partition': {
        const [shard, i] = this.pick(shards);
        await partition.isolate(shard.port);
        await sleep(duration);
        await partition.heal();
        return [`shard ${i}`];
      }
      case 'shard-loss': {
        const [shard, i] = this.pick(shards);
        return [`shard ${i}`, await this.lossy(duration, shard.port)];
      }
      case 'shard-delay': {
        const [, i] = this.pick(shards);
        const rttMs = this.between([20, 200]);
        const before = await shardRelays.setRtt(i, rttMs);
        await sleep(duration);
        const after = await shardRelays.setRtt(i, 0);
        return [`shard ${i} +${rttMs} ms`, after - before];
      }
      case 'oracle-leader-kill': {
        const leader = await this.leaderOracle();
        await leader.kill('SIGKILL');
        await sleep(duration);
        await leader.restart({ standby: true });
        return [`oracle ${leader.address}`];
      }
      case 'oracle-pause': {
        const [oracle] = this.pick(oracles);
        await oracle.kill('SIGSTOP');
        await sleep(duration);
        await oracle.kill('SIGCONT');
        return [`oracle ${oracle.address}`];
      }
      case 'oracle-partition': {
        const [oracle] = this.pick(oracles);
        await partition.isolate(portOf(oracle.address));
        await sleep(duration);
        await partition.heal();
        return [`oracle ${oracle.address}`];
      }
      case 'oracle-loss': {
        // The leader: a follower carries no client traffic, so loss there would touch nothing.
        const oracle = await this.leaderOracle();
        return [`oracle ${oracle.address}`, await this.lossy(duration, portOf(oracle.address))];
      }
      case 'etcd-kill': {
        const [member, i] = this.pick(etcd.members);
        await etcd.kill(i);
        await sleep(duration);
        await etcd.restart(i);
        return [`etcd ${member.name}`];
      }
      case 'etcd-pause': {
        const [member, i] = this.pick(etcd.members);
        await etcd.kill(i, 'SIGSTOP');
        await sleep(duration);
        await etcd.kill(i, 'SIGCONT');
        return [`etcd ${member.name}`];
      }
      case 'etcd-partition': {
        const [member] = this.pick(etcd.members);
        await partition.isolate(member.clientPort, member.peerPort);
        await sleep(duration);
        await partition.heal();
        await etcd.waitHealthy();
        return [`etcd ${member.name}`];
      }
      case 'etcd-loss': {
        const [member] = this.pick(etcd.members);
        const lost = await this.lossy(duration, member.clientPort, member.peerPort);
        await etcd.waitHealthy();
        return [`etcd ${member.name}`, lost];
      }
    }
  }

  /**
   * The oracle that leads now, waiting out a failover (up to 5 s); else one
   * drawn. Draws either way, so that a seed replays the same schedule.
   */
  private async leaderOracle(): Promise<OracleProcess> {
    const [drawn] = this.pick(this.targets.oracles);
    const leading = () => this.targets.oracles.find((o) => o.role === 'leader');
    if (!leading()) await Promise.any(this.targets.oracles.map((o) => o.waitForRole('leader', 5000))).catch(() => undefined);
    return leading() ?? drawn;
  }

  /** Drops a share (10, 25 or 50%, drawn) of these ports' segments for `duration`; returns how many were dropped. */
  private async lossy(duration: number, ...ports: number[]): Promise<number> {
    const { partition } = this.targets;
    const before = await partition.lostSegments();
    await partition.lose(this.pick([10, 25, 50])[0], ...ports);
    await sleep(duration);
    await partition.heal(...ports);
    return (await partition.lostSegments()) - before;
  }
}
