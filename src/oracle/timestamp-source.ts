import type { Timestamp } from '../timestamp.js';

/**
 * Where transactions get their start and commit timestamps. The gRPC oracle
 * client implements it; every value handed out is strictly greater than every
 * value handed out before it (across processes, restarts and failover).
 */
export interface TimestampSource {
  getTimestamp(options?: { signal?: AbortSignal }): Promise<Timestamp>;
  close(): Promise<void>;
}
