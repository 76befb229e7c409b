import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { InvalidInputError } from '../src/errors.js';

/**
 * `--rtt-ms <ms>` with tc netem (round-trip-delay.ts chooses): a network
 * round trip between the benchmark client and every server and the oracle,
 * added on the loopback interface: a root qdisc with a band (reached only
 * through u32 filters on the servers' ports, either direction) whose netem
 * delays packets by half the round trip; other loopback traffic is not
 * delayed. Needs root, iproute2's `tc` and a kernel with netem; refused with
 * the reason otherwise, and when loopback already has someone else's root
 * qdisc (the bench then uses delay relays instead).
 */

const DEVICE = 'lo';
const DELAY_BAND = '1:4';
const NO_NETEM = '--rtt-ms: this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM), so no delay can be added with it here';

export interface NetworkDelay {
  release(): void;
}

function tc(args: readonly string[]): string {
  return execFileSync('tc', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * The root qdisc and its band DELAY_BAND that only filtered packets reach:
 * prio with four bands (the priomap only ever picks the first three), or
 * where the kernel has no prio, htb whose default class 1:1 takes the rest.
 */
function addDelayBand(): void {
  try {
    tc(['qdisc', 'add', 'dev', DEVICE, 'root', 'handle', '1:', 'prio', 'bands', '4', 'priomap', ...'1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1'.split(' ')]);
    return;
  } catch (error) {
    if (!/kind is unknown/.test(String((error as { stderr?: string }).stderr))) throw error;
  }
  tc(['qdisc', 'add', 'dev', DEVICE, 'root', 'handle', '1:', 'htb', 'default', '1']);
  for (const classid of ['1:1', DELAY_BAND]) tc(['class', 'add', 'dev', DEVICE, 'parent', '1:', 'classid', classid, 'htb', 'rate', '100gbit']);
}

/** Refuses `--rtt-ms` before anything starts where it certainly cannot work: not Linux, not root, a kernel built without netem. */
export function delaySupport(): void {
  if (process.platform !== 'linux') throw new InvalidInputError(`--rtt-ms needs Linux traffic control (tc netem); this is ${process.platform}`);
  if (process.getuid?.() !== 0) throw new InvalidInputError('--rtt-ms adds delay on the loopback interface with tc netem, which needs root; run as root or leave it out');
  let config = '';
  try {
    config = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    return; // no kernel config to read: adding the qdisc will tell
  }
  if (/^# CONFIG_NET_SCH_NETEM is not set$/m.test(config)) throw new InvalidInputError(NO_NETEM);
}

/** Adds `rttMs` to every round trip with a server listening on one of `ports` (127.0.0.1). */
export function delayLoopbackPorts(ports: readonly number[], rttMs: number): NetworkDelay {
  delaySupport();
  let current: string;
  try {
    current = tc(['qdisc', 'show', 'dev', DEVICE]);
  } catch (error) {
    throw new InvalidInputError(`--rtt-ms needs iproute2's tc (apt-get install iproute2): ${(error as Error).message}`);
  }
  const root = current.split('\n').find((line) => / root /.test(line)) ?? '';
  if (root && !/^qdisc noqueue /.test(root)) {
    throw new InvalidInputError(`--rtt-ms: loopback already has a root qdisc (${root.trim()}); another program is shaping it, remove it first (tc qdisc del dev lo root)`);
  }
  const release = (): void => {
    try {
      tc(['qdisc', 'del', 'dev', DEVICE, 'root']);
    } catch {
      /* already gone */
    }
  };
  try {
    addDelayBand();
    // Each direction passes loopback's egress once: half the round trip each way.
    tc(['qdisc', 'add', 'dev', DEVICE, 'parent', DELAY_BAND, 'handle', '40:', 'netem', 'delay', `${Math.round(rttMs * 500)}us`, 'limit', '100000']);
    for (const port of ports) {
      for (const direction of ['dport', 'sport']) {
        tc(['filter', 'add', 'dev', DEVICE, 'parent', '1:0', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', direction, String(port), '0xffff', 'flowid', DELAY_BAND]);
      }
    }
  } catch (error) {
    release();
    const message = String((error as { stderr?: string }).stderr || (error as Error).message).trim();
    if (/netem/.test(String((error as Error).message)) && /kind is unknown/.test(message)) {
      throw new InvalidInputError(NO_NETEM);
    }
    throw new InvalidInputError(`--rtt-ms: could not add the delay with tc: ${message}`);
  }
  return { release };
}
