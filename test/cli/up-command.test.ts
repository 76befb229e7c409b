import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { eq } from 'drizzle-orm';
import { integer, pgTable } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { childPids } from '../../bench/cpu-accounting.js';
import { percolator } from '../../src/index.js';

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
}

describe('percolator up', () => {
  it('starts shards and an oracle the client can use, and removes them on Ctrl-C', async () => {
    const up = spawn(process.execPath, ['bin/percolator.js', 'up', '--shards', '2', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    up.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => up.once('close', (code) => resolve(code)));
    try {
      const [line] = await Promise.race([createInterface({ input: up.stdout })[Symbol.asyncIterator]().next().then((r) => [r.value as string]), exited.then(() => [undefined])]);
      expect(line, stderr).toBeDefined();
      const { shards, oracle } = JSON.parse(line!) as { shards: string[]; oracle: string };
      expect(shards).toHaveLength(2);

      const counters = pgTable('counters', { id: integer().primaryKey(), n: integer().notNull() });
      const db = await percolator({ oracle: [oracle], shards, schema: { counters } });
      try {
        await db.migrate();
        await db.insert(counters).values([{ id: 1, n: 1 }, { id: 2, n: 2 }]);
        expect(await db.select().from(counters).where(eq(counters.id, 2))).toEqual([{ id: 2, n: 2 }]);
      } finally {
        await db.close();
      }

      const children = childPids(up.pid!);
      const dataDirs = children.flatMap((pid) => {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return argv.includes('-D') ? [argv[argv.indexOf('-D') + 1]!] : [];
      });
      expect(dataDirs).toHaveLength(2);
      up.kill('SIGINT');
      expect(await exited).toBe(130); // killed by SIGINT, after the cleanup
      for (let i = 0; i < 50 && children.some(alive); i++) await sleep(100);
      expect(children.filter(alive)).toEqual([]);
      expect(dataDirs.filter((dir) => existsSync(dir))).toEqual([]);
    } finally {
      up.kill('SIGKILL');
    }
  }, 90_000);

  it('refuses a bad shard count', async () => {
    const up = spawn(process.execPath, ['bin/percolator.js', 'up', '--shards', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    up.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => up.once('close', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('--shards must be an integer from 1 to 16, got 0');
  });
});
