import { describe, expect, it } from 'vitest';
import { DEFAULTS, parseBenchArgs } from '../../bench/bench-options.js';
import { InvalidInputError } from '../../src/errors.js';

describe('percolator bench arguments', () => {
  it('defaults to the bank comparison the README promises', () => {
    const o = parseBenchArgs([]);
    expect(o).toMatchObject({
      durationS: DEFAULTS.duration,
      warmupS: DEFAULTS.warmup,
      clients: 16,
      shards: 3,
      keys: 1000,
      zipf: 0,
      systems: ['local', '2pc', 'percolator'],
      workloads: ['bank'],
      crossShardFraction: undefined,
      seed: 42,
      sweep: undefined,
      rounds: 1,
      json: false,
    });
  });

  it('parses every flag', () => {
    const o = parseBenchArgs([
      '--duration', '5', '--warmup', '0', '--clients', '8', '--keys', '500', '--zipf', '0.99',
      '--systems', '2pc,percolator-serializable', '--workload', 'ycsb-a,scan', '--cross-shard-fraction', '0.25',
      '--ops-per-txn', '3', '--audit-share', '0.5', '--seed', '7', '--sweep', 'clients=1,4,16', '--rounds', '3', '--json', '--report', 'r.html',
      '--shard-url', 'postgres://u:p@h1/db', '--shard-url', 'postgres://u:p@h2/db', '--oracle', '127.0.0.1:7070',
    ]);
    expect(o).toMatchObject({
      durationS: 5,
      warmupS: 0,
      clients: 8,
      keys: 500,
      zipf: 0.99,
      systems: ['2pc', 'percolator-serializable'],
      workloads: ['ycsb-a', 'scan'],
      crossShardFraction: 0.25,
      opsPerTxn: 3,
      auditShare: 0.5,
      seed: 7,
      sweep: { parameter: 'clients', values: [1, 4, 16] },
      rounds: 3,
      json: true,
      report: 'r.html',
      shards: 2,
      shardUrls: ['postgres://u:p@h1/db', 'postgres://u:p@h2/db'],
      oracle: '127.0.0.1:7070',
    });
    expect(parseBenchArgs(['--isolation', 'serializable']).systems).toEqual(['local-serializable', '2pc', 'percolator-serializable']);
    expect(parseBenchArgs(['--sweep', 'shards=1,2,4,8']).sweep).toEqual({ parameter: 'shards', values: [1, 2, 4, 8] });
    expect(parseBenchArgs(['--server-cpu', '0.15', '--rtt-ms', '0.5'])).toMatchObject({ serverCpu: 0.15, rttMs: 0.5 });
    expect(parseBenchArgs([])).toMatchObject({ serverCpu: undefined, rttMs: undefined });
  });

  it.each([
    [['--clients', '0'], /--clients must be at least 1/],
    [['--clients', '-3'], /--clients must be at least 1, got -3/],
    [['--clients', 'many'], /--clients must be a number/],
    [['--duration=-1'], /--duration must be greater than 0/],
    [['--zipf', '1'], /--zipf must be a theta with 0 < theta < 1/],
    [['--systems', 'percolator,mysql'], /unknown 'mysql'/],
    [['--workload', 'tpcc'], /unknown 'tpcc'/],
    [['--isolation', 'chaos'], /--isolation must be one of/],
    [['--cross-shard-fraction', '1.5'], /between 0 and 1/],
    [['--audit-share', '2'], /--audit-share must be between 0 and 1/],
    [['--sweep', 'keys=1,2'], /--sweep must look like/],
    [['--rounds', '0'], /--rounds must be at least 1/],
    [['--rounds', '21'], /--rounds must be at most 20/],
    [['--rounds', '1.5'], /--rounds must be an integer/],
    [['--sweep', 'clients=1,1'], /lists a value twice/],
    [['--shards', '2', '--shard-url', 'postgres://h/db'], /either --shards .* or --shard-url/],
    [['--shard-url', 'mysql://h/db'], /not a Postgres URL/],
    [['--oracle', 'nowhere'], /--oracle must be host:port/],
    [['--systems', 'local', '--isolation', 'snapshot'], /either --systems or --isolation/],
    [['--sweep', 'shards=1,4', '--shard-url', 'postgres://h/db'], /needs up to 4 shards/],
    [['--server-cpu', '0'], /--server-cpu must be between 0.01 and 1024 cores/],
    [['--server-cpu', '0.5', '--shard-url', 'postgres://h/db'], /cannot cap --shard-url or --local-url servers/],
    [['--rtt-ms', '-1'], /--rtt-ms must be greater than 0/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
    [['extra'], /positional argument/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseBenchArgs(argv)).toThrow(InvalidInputError);
    expect(() => parseBenchArgs(argv)).toThrow(message);
  });
});

describe('durations on the command line', () => {
  it.each([
    ['20', 20],
    ['20s', 20],
    ['1.5s', 1.5],
    ['500ms', 0.5],
    ['2m', 120],
  ])('--duration and --warmup %s are %d seconds', (text, seconds) => {
    expect(parseBenchArgs(['--duration', text, '--warmup', text])).toMatchObject({ durationS: seconds, warmupS: seconds });
  });

  it('refuses what is not a duration', () => {
    expect(() => parseBenchArgs(['--duration', '20 parsecs'])).toThrow(/--duration: expected a duration like 20s, 500ms or 2m \(a bare number is seconds\), got '20 parsecs'/);
    expect(() => parseBenchArgs(['--warmup', '-1s'])).toThrow(/--warmup/);
  });
});
