import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../bench/bench-options.js';
import { delaySupport } from '../../bench/network-delay.js';
import { runBench } from '../../bench/run-bench.js';
import { InvalidInputError } from '../../src/errors.js';

let unsupported: Error | undefined;
try {
  delaySupport();
} catch (error) {
  unsupported = error as Error;
}

async function bench(argv: string[]): Promise<{ stderr: string; run: ReturnType<typeof runBench> }> {
  let stderr = '';
  const err = new PassThrough();
  err.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const run = runBench(parseBenchArgs(argv), { stdout: new PassThrough(), stderr: err });
  return { get stderr() { return stderr; }, run };
}

describe('percolator bench --rtt-ms', () => {
  it.skipIf(unsupported === undefined)('is refused with the reason, before any server starts, where the machine cannot add delay', async () => {
    const started = await bench(['--rtt-ms', '1', '--systems', '2pc', '--shards', '1']);
    await expect(started.run).rejects.toThrow(InvalidInputError);
    await expect(started.run).rejects.toThrow(unsupported!.message);
    expect(started.stderr).not.toMatch(/starting/);
  });

  // Where netem works: each 2pc transfer makes at least two round trips to a shard, so its latency is at least twice the delay.
  it.skipIf(unsupported !== undefined)('adds the round trip to every statement', async () => {
    const started = await bench(['--rtt-ms', '20', '--systems', '2pc', '--shards', '1', '--clients', '1', '--warmup', '0.5', '--duration', '2', '--keys', '100']);
    const report = await started.run;
    expect(report.results[0]!.error).toBeUndefined();
    expect(report.results[0]!.latencyPercentiles[0]!.ms).toBeGreaterThanOrEqual(40);
  }, 120_000);
});
