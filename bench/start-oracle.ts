import { startOracleProcess } from '../src/harness/oracle-process.js';
import type { Logger } from '../src/logger.js';

export interface StartedOracle {
  readonly address: string;
  readonly pid: number;
  stop(): Promise<void>;
  /** Last-resort synchronous kill (process exit, Ctrl-C). */
  killSync(): void;
}

/** Starts a real oracle process (gRPC server) whose meta table lives at `metaUrl`. */
export async function startOracle(metaUrl: string, logger: Logger): Promise<StartedOracle> {
  const handle = await startOracleProcess({ metaUrl, logger });
  return {
    address: handle.address,
    pid: handle.pid,
    stop: () => handle.stop().catch(() => handle.kill()),
    killSync() {
      try {
        process.kill(handle.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    },
  };
}
