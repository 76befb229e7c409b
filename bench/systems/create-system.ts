import type { Logger } from '../../src/logger.js';
import type { BenchEnvironment } from '../bench-environment.js';
import type { CpuProcess } from '../cpu-accounting.js';
import type { ShardOf } from '../key-picker.js';
import type { BenchSystem, SystemName } from './bench-system.js';
import { LocalSystem } from './local-system.js';
import { PercolatorSystem } from './percolator-system.js';
import { TwoPhaseCommitSystem } from './two-phase-commit-system.js';

export interface SystemSetup {
  readonly environment: BenchEnvironment;
  /** The run uses the first `shards` shards of the environment. */
  readonly shards: number;
  readonly clients: number;
  readonly shardOf: ShardOf;
  readonly logger: Logger;
  /** --rebalance-at: the server after the first `shards` is added during the run. */
  readonly spareShard?: boolean | undefined;
}

export function createSystem(name: SystemName, setup: SystemSetup): BenchSystem {
  const { environment: env, shards, clients } = setup;
  const shardUrls = env.shardUrls.slice(0, shards);
  // The relays of --rtt-ms: every system's clients go through them; their CPU is counted apart.
  const shardProcesses = [...present(env.shardProcesses.slice(0, shards)), ...env.relayProcesses];
  switch (name) {
    case 'local':
    case 'local-serializable':
      return new LocalSystem(name, env.localUrl!, clients, [...present([env.localProcess]), ...env.relayProcesses]);
    case '2pc':
      return new TwoPhaseCommitSystem(shardUrls, clients, setup.shardOf, shardProcesses);
    case 'percolator':
    case 'percolator-serializable':
    case 'percolator-locking':
      return new PercolatorSystem({
        name,
        oracle: env.oracleAddress!,
        shardUrls,
        clients,
        processes: [...shardProcesses, ...present([env.oracleProcess])],
        logger: setup.logger,
        spareShardUrl: setup.spareShard ? env.shardUrls[shards] : undefined,
      });
  }
}

function present(processes: readonly (CpuProcess | undefined)[]): CpuProcess[] {
  return processes.filter((p): p is CpuProcess => p !== undefined);
}
