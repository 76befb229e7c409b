import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { childPids } from '../../bench/cpu-accounting.js';

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
}

describe('Ctrl-C during percolator bench', () => {
  it('stops, removes the throwaway servers and the oracle, and exits 130', async () => {
    const bench = spawn(process.execPath, ['bin/percolator.js', 'bench', '--systems', '2pc,percolator', '--shards', '2', '--clients', '2', '--warmup', '0', '--duration', '60'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const measuring = new Promise<void>((resolve) => {
      bench.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('measure')) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => bench.once('exit', (code) => resolve(code)));
    await Promise.race([measuring, exited]);
    expect(stderr).toContain('measure');

    // Two shards' postmasters and the oracle process, with the shards' data directories.
    const children = childPids(bench.pid!);
    const commands = children.map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'));
    const dataDirs = commands.flatMap((argv) => (argv.includes('-D') ? [argv[argv.indexOf('-D') + 1]!] : []));
    expect(dataDirs).toHaveLength(2);
    expect(commands.some((argv) => argv.includes('oracle'))).toBe(true);

    bench.kill('SIGINT');
    expect(await exited).toBe(130);
    for (let i = 0; i < 50 && children.some(alive); i++) await sleep(100);
    expect(children.filter(alive)).toEqual([]);
    expect(dataDirs.filter((dir) => existsSync(dir))).toEqual([]);
  }, 90_000);
});
