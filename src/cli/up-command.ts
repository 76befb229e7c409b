import { parseCommandArgs } from '../command-line/parse-command-args.js';
import { createCliLogger } from '../logger.js';

export const help = `usage: percolator up [--shards <n>] [--json]

Starts throwaway Postgres shards (durable settings) and a timestamp oracle on
loopback ports, prints how to connect the client to them, and keeps them
running until Ctrl-C (or SIGTERM), which stops them, deletes their data and
exits 130 (143).
For trying the library; nothing needs to be installed beforehand.

options:
  --shards <n>   throwaway shards to start (default 3)
  --json         print one JSON line { shards, oracle } on stdout instead of the text
  -h, --help     this help`;

export async function run(argv: string[]): Promise<number> {
  const hint = 'Run `percolator up --help` for the options.';
  const parsed = parseCommandArgs('up', { args: argv, strict: true, allowPositionals: false, options: { shards: { type: 'string' }, json: { type: 'boolean' } } }, hint);
  if (!parsed) return 2;
  const shards = parsed.values.shards === undefined ? 3 : Number(parsed.values.shards);
  const json = parsed.values.json ?? false;
  if (!Number.isSafeInteger(shards) || shards < 1 || shards > 16) {
    console.error(`percolator up: --shards must be an integer from 1 to 16, got ${parsed.values.shards}\n${hint}`);
    return 2;
  }
  // The benchmark's environment: the same throwaway servers and oracle, registered for cleanup on exit.
  const { openEnvironment } = await import('../../bench/bench-environment.js');
  // Until a signal. The harness's exit hooks (process-cleanup.ts) usually act
  // on it first: they stop the servers and the oracle synchronously and exit
  // 128 + signal; otherwise the environment is closed below.
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const environment = await openEnvironment(
    { systems: ['percolator'], shards, sweep: undefined, shardUrls: undefined, localUrl: undefined, oracle: undefined },
    createCliLogger(),
    (line) => process.stderr.write(`${line}\n`),
  );
  try {
    const urls = environment.shardUrls;
    if (json) {
      process.stdout.write(`${JSON.stringify({ shards: urls, oracle: environment.oracleAddress })}\n`);
    } else {
      process.stdout.write(`${urls.length} throwaway Postgres shard${urls.length > 1 ? 's' : ''} and a timestamp oracle are up; Ctrl-C stops them and deletes their data.

  shards: ${urls.join('\n          ')}
  oracle: ${environment.oracleAddress}

  const db = await percolator({
    oracle: ['${environment.oracleAddress}'],
    shards: [${urls.map((u) => `'${u}'`).join(', ')}],
    schema,
  });
`);
    }
    await stopped;
    process.stderr.write('stopping the oracle and removing the throwaway servers...\n');
    return 0;
  } finally {
    await environment.close();
  }
}
