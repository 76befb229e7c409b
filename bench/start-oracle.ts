import type { Logger } from '../src/logger.js';

/** What the bench needs from src/harness/oracle-process.ts (issue 2's `startOracleProcess`). */
interface OracleProcessHandle {
  address: string;
  pid: number;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

interface OracleProcessModule {
  startOracleProcess(options: { metaUrl: string; listen?: string; logger?: Logger }): Promise<OracleProcessHandle>;
}

// Not a static import: the oracle lands on main separately; until then the bench reports it missing.
const ORACLE_PROCESS_MODULE = '../src/harness/oracle-process.js';

export interface StartedOracle {
  readonly address: string;
  readonly pid: number;
  stop(): Promise<void>;
  /** Last-resort synchronous kill (process exit, Ctrl-C). */
  killSync(): void;
}

/** Starts a real oracle process (gRPC server) whose meta table lives at `metaUrl`. */
export async function startOracle(metaUrl: string, logger: Logger): Promise<StartedOracle> {
  const mod = (await import(ORACLE_PROCESS_MODULE)) as OracleProcessModule;
  const handle = await mod.startOracleProcess({ metaUrl, logger });
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
