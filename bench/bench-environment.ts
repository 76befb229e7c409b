import { registerForCleanup, unregisterFromCleanup } from '../src/harness/process-cleanup.js';
import type { Logger } from '../src/logger.js';
import type { BenchOptions } from './bench-options.js';
import type { CpuProcess } from './cpu-accounting.js';
import { probeOracle, probePostgres } from './reachability.js';
import type { SystemName } from './systems/bench-system.js';
import { startOracle } from './start-oracle.js';
import { capServers, cpuCapSupport } from './server-cpu-cap.js';
import { addRoundTripDelay } from './round-trip-delay.js';

/**
 * The servers a benchmark runs against: the shards (throwaway ones from the
 * harness with durable settings, or the user's), the Postgres for the local
 * baselines, and the oracle. Throwaway servers and the oracle process are
 * registered for cleanup on exit and Ctrl-C.
 */
export interface BenchEnvironment {
  readonly shardUrls: readonly string[];
  /** Postmaster of each shard on this machine (undefined: remote, CPU not counted). */
  readonly shardProcesses: readonly (CpuProcess | undefined)[];
  readonly localUrl: string | undefined;
  readonly localProcess: CpuProcess | undefined;
  readonly oracleAddress: string | undefined;
  readonly oracleProcess: CpuProcess | undefined;
  /** Where the oracle started here keeps its lease and window (undefined: no oracle started). */
  readonly metaUrl?: string;
  /** Delay relays of --rtt-ms (none without it, or with netem): the URLs above lead through them. */
  readonly relayProcesses: readonly CpuProcess[];
  /** Caveats to print with the results (CPU not counted for remote servers, ...). */
  readonly notes: readonly string[];
  close(): Promise<void>;
}

const ORACLE_DATABASE = 'percolator_oracle';

/** What the environment depends on: which systems run, and the servers given or to start. */
export type EnvironmentOptions = Pick<BenchOptions, 'systems' | 'sweep' | 'shards' | 'shardUrls' | 'localUrl' | 'oracle'> &
  Partial<Pick<BenchOptions, 'serverCpu' | 'rttMs'>>;

/**
 * `replicas` (percolator up --replicas): streaming standbys of each throwaway
 * shard, the primary waiting for one at every commit; the shards' URLs then
 * name them all, and the oracle's meta database gets a server of its own
 * (on shard 0's primary it would stop with it).
 * `meta` (percolator up --meta): the oracle's meta store, `etcd` for a
 * throwaway 3-member etcd cluster, or the URL of one (postgres:// or etcd://).
 */
export async function openEnvironment(options: EnvironmentOptions & { replicas?: number; meta?: string }, logger: Logger, log: (line: string) => void): Promise<BenchEnvironment> {
  const wantsLocal = options.systems.some((s) => s.startsWith('local'));
  const wantsOracle = options.systems.some((s: SystemName) => s.startsWith('percolator'));
  const shardCount = options.sweep?.parameter === 'shards' ? Math.max(...options.sweep.values) : options.shards;
  const replicas = options.replicas ?? 0;
  const closers: (() => Promise<void>)[] = [];
  const notes: string[] = [];
  const close = async (): Promise<void> => {
    for (const closer of closers.reverse()) await closer().catch(() => {});
  };

  try {
    // Refused before anything starts when this machine cannot do it.
    if (options.serverCpu !== undefined) cpuCapSupport();
    const ownShards = !options.shardUrls;
    const ownLocal = wantsLocal && !options.localUrl && ownShards;
    if (ownShards || ownLocal) {
      log(`starting ${ownShards ? `${shardCount} throwaway Postgres shard${shardCount > 1 ? 's' : ''}${replicas > 0 ? ` with ${replicas} synchronous standby${replicas > 1 ? 's' : ''} each` : ''}` : ''}${ownShards && ownLocal ? ' + ' : ''}${ownLocal ? '1 for local' : ''} (durable: fsync on)...`);
    }
    // Loaded only when needed: a run against the user's own servers does not start any.
    const harness = ownShards || ownLocal ? await loadHarness() : undefined;
    const ownMeta = ownShards && wantsOracle && !options.oracle && replicas > 0 && options.meta === undefined;
    const [cluster, localServer, metaServer] = await Promise.all([
      ownShards ? harness!.PostgresCluster.start(shardCount, { logger, replicas }) : undefined,
      ownLocal ? harness!.PostgresServer.create({ logger }) : undefined,
      ownMeta ? harness!.PostgresServer.create({ logger }) : undefined,
    ]);
    if (cluster) closers.push(() => cluster.destroy());
    if (localServer) closers.push(() => localServer.destroy());
    if (metaServer) closers.push(() => metaServer.destroy());

    const shardUrls = options.shardUrls ?? cluster!.urls;
    const localUrl = wantsLocal ? (options.localUrl ?? localServer?.url ?? shardUrls[0]!) : undefined;
    if (wantsLocal && !localServer && !options.localUrl) notes.push('local runs on the first shard\'s server (pass --local-url for a server of its own)');

    const probes = await Promise.all(shardUrls.map((url, i) => probePostgres(i, url)));
    const shardProcesses = probes.map((p, i) => (p.postmasterPid ? { role: 'postgres' as const, label: `shard ${i}`, pid: p.postmasterPid } : undefined));
    if (shardProcesses.some((p) => !p)) notes.push('CPU of shards on other machines is not counted');
    let localProcess: CpuProcess | undefined;
    if (localUrl) {
      const probe = await probePostgres('local', localUrl);
      localProcess = probe.postmasterPid ? { role: 'postgres', label: 'local', pid: probe.postmasterPid } : undefined;
      if (!localProcess) notes.push('CPU of the local baseline\'s server is not counted (not on this machine)');
    }

    let oracleAddress: string | undefined;
    let oracleProcess: CpuProcess | undefined;
    let metaUrl: string | undefined;
    if (wantsOracle && options.oracle) {
      await probeOracle(options.oracle);
      oracleAddress = options.oracle;
      notes.push('CPU of the oracle given by --oracle is not counted');
    } else if (wantsOracle) {
      // The oracle's meta table lives on shard 0's server, in a database of its own when we own the server;
      // with standbys on a server of its own (shard 0's primary may be killed to try a failover).
      metaUrl =
        options.meta === 'etcd'
          ? await startEtcd(closers, log)
          : (options.meta ?? (metaServer ? metaServer.url : cluster ? await cluster.servers[0]!.createDatabase(ORACLE_DATABASE) : shardUrls[0]!));
      log('starting the timestamp oracle...');
      const oracle = await startOracle(metaUrl, logger);
      const cleanup = { destroySync: () => oracle.killSync() };
      registerForCleanup(cleanup);
      closers.push(async () => {
        await oracle.stop();
        unregisterFromCleanup(cleanup);
      });
      oracleAddress = oracle.address;
      oracleProcess = { role: 'oracle', label: 'oracle', pid: oracle.pid };
    }

    if (options.serverCpu !== undefined) {
      const servers = [...shardProcesses, localProcess].filter((p): p is CpuProcess => p !== undefined);
      const cap = capServers(servers, options.serverCpu);
      closers.push(async () => cap.release());
      notes.push(`every Postgres server capped at ${options.serverCpu} CPU (cgroups)`);
    }
    let servers = { shardUrls, localUrl, oracleAddress };
    let relayProcesses: readonly CpuProcess[] = [];
    if (options.rttMs !== undefined) {
      const delay = await addRoundTripDelay(servers, options.rttMs);
      const cleanup = { destroySync: () => delay.releaseSync() };
      registerForCleanup(cleanup);
      // First to go: the servers' goodbyes should not wait for the delay.
      closers.push(async () => {
        await delay.release();
        unregisterFromCleanup(cleanup);
      });
      servers = delay.servers;
      relayProcesses = delay.processes;
      log(`--rtt-ms: ${delay.description}`);
      notes.push(delay.description);
    }
    return { ...servers, shardProcesses, localProcess, oracleProcess, metaUrl, relayProcesses, notes, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A throwaway 3-member etcd cluster on loopback ports (closed with the environment); returns its URL for the oracle. */
async function startEtcd(closers: (() => Promise<void>)[], log: (line: string) => void): Promise<string> {
  log('starting a throwaway 3-member etcd cluster for the oracle...');
  const { EtcdCluster } = await import('../src/harness/etcd-cluster.js');
  const etcd = await EtcdCluster.start({ members: 3 });
  closers.push(() => etcd.destroy());
  return etcd.url('/percolator/oracle');
}

async function loadHarness() {
  const [{ PostgresCluster }, { PostgresServer }] = await Promise.all([
    import('../src/harness/postgres-cluster.js'),
    import('../src/harness/postgres-server.js'),
  ]);
  return { PostgresCluster, PostgresServer };
}
