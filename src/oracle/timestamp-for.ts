import { OracleUnavailableError, PercolatorError } from '../errors.js';
import type { Timestamp } from '../timestamp.js';
import type { TimestampSource } from './timestamp-source.js';

/**
 * A timestamp from `source` for `purpose` (`start`, `commit`, `for_update`).
 * A catalogue error passes unchanged; any other failure (an application's
 * TimestampSource, a transport error) becomes OracleUnavailableError, naming
 * what the timestamp was for, with the failure as its cause.
 */
export async function timestampFor(source: TimestampSource, purpose: string): Promise<Timestamp> {
  try {
    return await source.getTimestamp();
  } catch (error) {
    if (error instanceof PercolatorError) throw error;
    throw new OracleUnavailableError(`no ${purpose} timestamp: ${String(error)}`, { cause: error });
  }
}
