import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, privateTmpdir, startHostedServer, waitFor, type HostedServer } from '../support/server-host.js';

/** Every process whose command line names `dir` (the postmaster, `-D dir`, and anything watching it). */
function processesNaming(dir: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => arg.includes(dir));
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('stale throwaway data directories', () => {
  let tmp: string;
  let next: HostedServer | undefined;
  beforeAll(() => {
    tmp = privateTmpdir('pgp-stale-');
  });
  afterAll(async () => {
    next?.host.kill('SIGTERM');
    await sleep(1000);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('are removed by the next start once their postmaster is gone', async () => {
    const first = await startHostedServer({ TMPDIR: tmp });
    // Everything dies at once, as in an OOM kill or a power cut of the session:
    // the parent, its postmaster and anything else that would clean up after it.
    const victims = [first.host.pid!, ...processesNaming(first.dataDir)];
    for (const pid of victims) execFileSync('kill', ['-KILL', String(pid)]);
    expect(await waitFor(() => !victims.some(alive), 10_000)).toBe(true);
    expect(existsSync(first.dataDir)).toBe(true);

    next = await startHostedServer({ TMPDIR: tmp });
    expect(existsSync(first.dataDir)).toBe(false);
    expect(existsSync(next.dataDir)).toBe(true);
  });
});
