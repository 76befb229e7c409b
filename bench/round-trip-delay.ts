import type { CpuProcess } from './cpu-accounting.js';
import { startDelayRelays } from './delay-relays.js';
import { delayLoopbackPorts, delaySupport } from './network-delay.js';

/**
 * `--rtt-ms <ms>`: a network round trip between the benchmark's clients and
 * every server and the oracle. With tc netem on loopback where this machine
 * can (Linux, root, a kernel with netem, servers on loopback): the kernel
 * delays the packets and nothing else changes. Otherwise with a delay relay
 * per server (delay-relays.ts), each in a process of its own, and the
 * clients connect to the relays instead of the servers; the relays cost CPU
 * that netem does not, counted apart from the client's.
 */

export interface DelayedServers {
  readonly shardUrls: readonly string[];
  readonly localUrl: string | undefined;
  readonly oracleAddress: string | undefined;
}

export interface RoundTripDelay {
  /** What the clients connect to: the servers, or with relays the relays in front of them. */
  readonly servers: DelayedServers;
  readonly mechanism: 'netem' | 'relay';
  /** A line saying how the delay is added (and with relays why not with netem). */
  readonly description: string;
  /** The relays' processes (none with netem), for their CPU. */
  readonly processes: readonly CpuProcess[];
  release(): Promise<void>;
  releaseSync(): void;
}

/** host:port of a server URL or a bare address (the oracle's). */
function hostPort(address: string): { host: string; port: number } {
  const parsed = new URL(address.includes('://') ? address : `tcp://${address}`);
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port || 5432) };
}

function viaPort(address: string, port: number): string {
  if (!address.includes('://')) return `127.0.0.1:${port}`;
  const parsed = new URL(address);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(port);
  return parsed.toString();
}

function withNetem(servers: DelayedServers, addresses: readonly string[], rttMs: number): RoundTripDelay | string {
  try {
    delaySupport();
    const targets = addresses.map(hostPort);
    const remote = targets.find((t) => !['127.0.0.1', 'localhost'].includes(t.host));
    if (remote) return `netem delays loopback only and ${remote.host} is not on this machine`;
    const delay = delayLoopbackPorts([...new Set(targets.map((t) => t.port))], rttMs);
    return {
      servers,
      mechanism: 'netem',
      description: `${rttMs} ms added to every round trip with a server or the oracle (tc netem on loopback)`,
      processes: [],
      release: async () => delay.release(),
      releaseSync: () => delay.release(),
    };
  } catch (error) {
    return (error as Error).message.replace(/^--rtt-ms: /, '');
  }
}

/** Adds `rttMs` to every round trip with `servers`: netem where it works, relays otherwise. */
export async function addRoundTripDelay(servers: DelayedServers, rttMs: number): Promise<RoundTripDelay> {
  const addresses = [...servers.shardUrls, ...(servers.localUrl ? [servers.localUrl] : []), ...(servers.oracleAddress ? [servers.oracleAddress] : [])];
  const netem = withNetem(servers, addresses, rttMs);
  if (typeof netem !== 'string') return netem;
  // One relay per distinct server: local may be shard 0's server.
  const distinct = [...new Set(addresses.map((a) => { const t = hostPort(a); return `${t.host}:${t.port}`; }))];
  const relays = await startDelayRelays(distinct.map(hostPort), rttMs);
  const relayed = (address: string): string => {
    const t = hostPort(address);
    return viaPort(address, relays.ports[distinct.indexOf(`${t.host}:${t.port}`)]!);
  };
  return {
    servers: {
      shardUrls: servers.shardUrls.map(relayed),
      localUrl: servers.localUrl && relayed(servers.localUrl),
      oracleAddress: servers.oracleAddress && relayed(servers.oracleAddress),
    },
    mechanism: 'relay',
    description: `${rttMs} ms added to every round trip with a server or the oracle by a delay relay per server, in processes of their own (not tc netem: ${netem}); the relays use CPU of this machine, counted apart`,
    processes: relays.processes,
    release: () => relays.close(),
    releaseSync: () => relays.killSync(),
  };
}
