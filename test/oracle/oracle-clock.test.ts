import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import { physicalMs } from '../../src/timestamp.js';
import { checkHistory, startHistoryClient } from './support/history.js';
import { META_BACKENDS, useMetaServer } from './support/meta-server-fixture.js';

describe.each(META_BACKENDS)('oracle with a clock that jumps (meta store: %s)', (backend) => {
  const meta = useMetaServer(backend);
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'oracle-clock-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stays strictly increasing while the wall clock steps back and forth, and across a restart with the clock an hour behind', async () => {
    const offsetFile = path.join(dir, 'offset');
    const setOffset = (ms: number): Promise<void> => writeFile(offsetFile, String(ms));
    await setOffset(0);
    const oracle = await meta.oracle({ args: ['--lease', '1s', '--window', '2s', '--test-clock-offset-file', offsetFile] });
    const client = createOracleClient({ addresses: [oracle.address], deadlineMs: 15_000 });
    try {
      const started = startHistoryClient({ addresses: [oracle.address], callers: 20, durationMs: 3500, maxCount: 100 });
      await started.answered;
      const history = started.done;
      const steps: Array<[number, number]> = [[600, -30_000], [1200, 20_000], [2000, -60_000], [2800, 0]];
      let forwardSeen = 0;
      let now = 0;
      for (const [at, offset] of steps) {
        await sleep(at - now);
        now = at;
        await setOffset(offset);
        if (offset === 20_000) {
          // The oracle re-reads the offset file every 10 ms (later if its event loop is starved).
          for (const until = Date.now() + 3000; forwardSeen < 15_000 && Date.now() < until; ) {
            forwardSeen = physicalMs(await client.getTimestamp()) - Date.now();
          }
        }
      }
      // A jump forward beyond the persisted window is followed (after persisting more), not capped.
      expect(forwardSeen).toBeGreaterThan(15_000);
      const records = (await history).records;
      expect(records.length).toBeGreaterThan(100);
      expect(checkHistory(records)).toEqual([]);

      const highest = records.reduce((m, r) => (r.first + BigInt(r.count) > m ? r.first + BigInt(r.count) : m), 0n);
      await setOffset(-3_600_000);
      await oracle.kill('SIGKILL');
      await oracle.restart();
      expect(await client.getTimestamp()).toBeGreaterThan(highest);
    } finally {
      await client.close();
    }
  });
});
