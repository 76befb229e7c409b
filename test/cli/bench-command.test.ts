import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);

/** `percolator bench` as a user runs it (bin/percolator.js, from dist/); the parsing itself: test/bench/bench-options.unit.test.ts. */
describe('percolator bench on the command line', () => {
  it('the CLI prints a clear message and exits non-zero on bad arguments', async () => {
    const failure = await execFileAsync(process.execPath, ['bin/percolator.js', 'bench', '--clients', '0']).catch((e: unknown) => e as { code: number; stderr: string });
    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr).toContain('percolator bench: --clients must be at least 1');
  });

  it('the CLI names an unreachable shard', async () => {
    const failure = await execFileAsync(process.execPath, [
      'bin/percolator.js', 'bench', '--systems', '2pc', '--shard-url', 'postgres://postgres:secret@127.0.0.1:1/nowhere',
    ]).catch((e: unknown) => e as { code: number; stderr: string });
    expect(failure).toMatchObject({ code: 1 });
    const stderr = (failure as { stderr: string }).stderr;
    expect(stderr).toContain('shard 0 (postgres://postgres:***@127.0.0.1:1/nowhere) unavailable');
    expect(stderr).not.toContain('secret');
  });

  it('routes `bench oracle` to the oracle benchmark, --help included', async () => {
    const { stdout } = await execFileAsync(process.execPath, ['bin/percolator.js', 'bench', 'oracle', '--help']);
    expect(stdout).toMatch(/^usage: percolator bench oracle/);
  });

  it('--help lists the options', async () => {
    const { stdout } = await execFileAsync(process.execPath, ['bin/percolator.js', 'bench', '--help']);
    for (const flag of ['--duration', '--clients', '--shard-url', '--oracle', '--zipf', '--sweep', '--json', '--report', '--cross-shard-fraction']) {
      expect(stdout).toContain(flag);
    }
  });

  it('`bench` and `bench oracle` read durations alike', async () => {
    const bench = await execFileAsync(process.execPath, ['bin/percolator.js', 'bench', '--duration', '20s', '--clients', '0']).catch((e: unknown) => e as { stderr: string });
    expect((bench as { stderr: string }).stderr).toContain('--clients must be at least 1');
    const oracle = await execFileAsync(process.execPath, ['bin/percolator.js', 'bench', 'oracle', '--duration', '20', '--callers', '0']).catch((e: unknown) => e as { stderr: string });
    expect((oracle as { stderr: string }).stderr).toContain('--callers and --unary-callers must be positive integers');
  });
});
