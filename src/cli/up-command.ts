import { parseCommandArgs } from '../command-line/parse-command-args.js';
import { createCliLogger } from '../logger.js';
import { redactUrl } from '../redact.js';

export const help = `usage: percolator up [--shards <n>] [--replicas <n>] [--meta <store>] [--json]

Starts throwaway Postgres shards (durable settings) and a timestamp oracle on
loopback ports, prints how to connect the client to them, and keeps them
running until Ctrl-C (or SIGTERM), which stops them, deletes their data and
exits 130 (143).
For trying the library; nothing needs to be installed beforehand.

options:
  --shards <n>   throwaway shards to start (default 3)
  --replicas <n> streaming standbys of each shard (default 0): the shard's
                 primary waits for one of them at every commit (synchronous
                 replication), and each shard's URL names its primary and its
                 standbys (target_session_attrs=read-write), so the client
                 follows a standby promoted after its primary is lost
  --meta <store> where the oracle keeps its lease and timestamp window:
                 postgres (default: a database on shard 0's server, or a
                 server of its own with --replicas), etcd (a throwaway
                 3-member etcd cluster on loopback ports, removed on Ctrl-C;
                 needs the etcd binary: Debian's etcd-server), or the URL of
                 your own store, etcd://h1:2379,h2:2379[/prefix],
                 etcds://... (TLS) or postgres://... (left as it is on Ctrl-C)
  --json         print one JSON line { shards, oracle, meta } on stdout instead of the text
  -h, --help     this help`;

export async function run(argv: string[]): Promise<number> {
  const hint = 'Run `percolator up --help` for the options.';
  const parsed = parseCommandArgs('up', { args: argv, strict: true, allowPositionals: false, options: { shards: { type: 'string' }, replicas: { type: 'string' }, meta: { type: 'string' }, json: { type: 'boolean' } } }, hint);
  if (!parsed) return 2;
  const shards = parsed.values.shards === undefined ? 3 : Number(parsed.values.shards);
  const replicas = parsed.values.replicas === undefined ? 0 : Number(parsed.values.replicas);
  const json = parsed.values.json ?? false;
  if (!Number.isSafeInteger(shards) || shards < 1 || shards > 16) {
    console.error(`percolator up: --shards must be an integer from 1 to 16, got ${parsed.values.shards}\n${hint}`);
    return 2;
  }
  if (!Number.isSafeInteger(replicas) || replicas < 0 || replicas > 4) {
    console.error(`percolator up: --replicas must be an integer from 0 to 4, got ${parsed.values.replicas}\n${hint}`);
    return 2;
  }
  const meta = parsed.values.meta === 'postgres' ? undefined : parsed.values.meta;
  if (meta !== undefined && meta !== 'etcd' && !/^(etcds?|postgres|postgresql):\/\//.test(meta)) {
    console.error(`percolator up: --meta must be postgres, etcd, or an etcd://, etcds:// or postgres:// URL, got ${redactUrl(meta)}\n${hint}`);
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
    { systems: ['percolator'], shards, replicas, meta, sweep: undefined, shardUrls: undefined, localUrl: undefined, oracle: undefined },
    createCliLogger(),
    (line) => process.stderr.write(`${line}\n`),
  );
  try {
    const urls = environment.shardUrls;
    const metaUrl = redactUrl(environment.metaUrl!);
    if (json) {
      process.stdout.write(`${JSON.stringify({ shards: urls, oracle: environment.oracleAddress, meta: metaUrl })}\n`);
    } else {
      const standbys = replicas === 0 ? '' : `, each a primary with ${replicas} synchronous standby${replicas > 1 ? 's' : ''} (its URL names them all),`;
      const store = meta === 'etcd' ? ' on a throwaway 3-member etcd cluster' : meta === undefined ? '' : ' on the meta store given';
      process.stdout.write(`${urls.length} throwaway Postgres shard${urls.length > 1 ? 's' : ''}${standbys} and a timestamp oracle${store} are up; Ctrl-C stops them and deletes their data.

  shards: ${urls.join('\n          ')}
  oracle: ${environment.oracleAddress}
  meta:   ${metaUrl}

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
