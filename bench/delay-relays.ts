import { fork, type ChildProcess } from 'node:child_process';
import { compiledPath } from '../src/package-root.js';
import type { CpuProcess } from './cpu-accounting.js';

/**
 * Delay relays (delay-relay.ts) in front of servers, each in a process of
 * its own (delay-relay-process.ts): the relays' CPU is then counted apart
 * from the benchmark client's, and one busy server's relay does not delay
 * another's.
 */

export interface RelayTarget {
  readonly host: string;
  readonly port: number;
}

export interface RelayProcessConfig {
  readonly targets: readonly RelayTarget[];
  readonly oneWayMs: number;
}

export type RelayProcessMessage = { type: 'ready'; ports: number[] } | { type: 'error'; message: string } | { type: 'delay-set'; delayedChunks: number };

/** From the parent: change the delay of every relay of the process (answered by `delay-set`). */
export interface RelayProcessCommand {
  type: 'set-delay';
  oneWayMs: number;
}

export interface DelayRelays {
  /** The relay's port on 127.0.0.1 for each target, in order. */
  readonly ports: readonly number[];
  readonly processes: readonly CpuProcess[];
  /**
   * Changes the delay of the relay to target `index` to `rttMs` per round
   * trip (0: none); resolves once it applies, with the chunks that relay has
   * held back by a delay so far.
   */
  setRtt(index: number, rttMs: number): Promise<number>;
  close(): Promise<void>;
  /** Last-resort synchronous kill (process exit, Ctrl-C). */
  killSync(): void;
}

function startRelayProcess(config: RelayProcessConfig): { child: ChildProcess; ready: Promise<number[]> } {
  const child = fork(compiledPath('bench/delay-relay-process'), [JSON.stringify(config)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const ready = new Promise<number[]>((resolve, reject) => {
    child.once('message', (message: RelayProcessMessage) => (message.type === 'ready' ? resolve(message.ports) : reject(new Error(`delay relay: ${message.type === 'error' ? message.message : message.type}`))));
    child.once('exit', (code) => reject(new Error(`delay relay process exited (code ${code}) before it was ready`)));
    child.once('error', reject);
  });
  return { child, ready };
}

/** A relay per target adding `rttMs` to every round trip through it (half each way). */
export async function startDelayRelays(targets: readonly RelayTarget[], rttMs: number): Promise<DelayRelays> {
  const started = targets.map((target) => startRelayProcess({ targets: [target], oneWayMs: rttMs / 2 }));
  const killSync = (): void => {
    for (const { child } of started) if (child.exitCode === null) child.kill('SIGKILL');
  };
  let ports: number[];
  try {
    ports = (await Promise.all(started.map((s) => s.ready))).map((p) => p[0]!);
  } catch (error) {
    killSync();
    throw error;
  }
  return {
    ports,
    processes: started.map(({ child }, i) => ({ role: 'relay', label: `relay to ${targets[i]!.host}:${targets[i]!.port}`, pid: child.pid! })),
    async setRtt(index, rttMs) {
      const { child } = started[index]!;
      const answer = new Promise<number>((resolve, reject) => {
        const onMessage = (message: RelayProcessMessage): void => {
          if (message.type !== 'delay-set') return;
          child.off('exit', onExit).off('message', onMessage);
          resolve(message.delayedChunks);
        };
        const onExit = (): void => {
          child.off('message', onMessage);
          reject(new Error(`delay relay to ${targets[index]!.host}:${targets[index]!.port} exited`));
        };
        child.on('message', onMessage).once('exit', onExit);
      });
      const command: RelayProcessCommand = { type: 'set-delay', oneWayMs: rttMs / 2 };
      child.send(command);
      return answer;
    },
    async close() {
      await Promise.all(
        started.map(({ child }) => {
          if (child.exitCode !== null) return undefined;
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.disconnect();
          return exited;
        }),
      );
    },
    killSync,
  };
}
