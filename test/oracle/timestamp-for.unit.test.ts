import { describe, expect, it } from 'vitest';
import { OracleUnavailableError, SnapshotTooOldError } from '../../src/errors.js';
import { timestampFor } from '../../src/oracle/timestamp-for.js';
import type { TimestampSource } from '../../src/oracle/timestamp-source.js';

/** An application's own TimestampSource (the public interface), failing with `error`. */
const failingWith = (error: unknown): TimestampSource => ({ getTimestamp: () => Promise.reject(error), close: async () => {} });

describe('timestampFor', () => {
  it('hands out what the source gives', async () => {
    await expect(timestampFor({ getTimestamp: async () => 42n, close: async () => {} }, 'start')).resolves.toBe(42n);
  });

  it('turns a failure from outside the catalogue into OracleUnavailableError naming the purpose, with the cause', async () => {
    const cause = new Error('socket hang up');
    const error = await timestampFor(failingWith(cause), 'commit').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OracleUnavailableError);
    expect(error).toMatchObject({ retryable: true, cause, message: 'no commit timestamp: Error: socket hang up' });
  });

  it('passes a catalogue error unchanged', async () => {
    const own = new SnapshotTooOldError(1n, 2n, '#0');
    await expect(timestampFor(failingWith(own), 'for_update')).rejects.toBe(own);
  });
});
