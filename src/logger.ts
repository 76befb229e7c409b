import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * The library never logs unless given a logger; this is the default: silent.
 * Applications pass their own pino instance (or a child) to every component.
 */
export const silentLogger: Logger = pino({ level: 'silent' });

/** Logger for the CLI: structured JSON to stderr, level from PERCOLATOR_LOG_LEVEL (default warn). */
export function createCliLogger(level = process.env.PERCOLATOR_LOG_LEVEL ?? 'warn'): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination(2));
}
