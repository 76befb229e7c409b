import { readFileSync } from 'node:fs';
import { createCliLogger } from '../logger.js';
import { offsetFileClock, systemClock } from '../oracle/clock.js';
import { InvalidInputError, PercolatorError } from '../errors.js';
import { parseDurationFlagMs } from '../command-line/duration.js';
import { ORACLE_DEFAULTS, startOracleServer } from '../oracle/oracle-server.js';
import { parseCommandArgs } from '../command-line/parse-command-args.js';

export const help = `usage: percolator oracle --meta <postgres-url | etcd-url> [options]

Runs one timestamp oracle process. Start several against the same meta
store for high availability: one holds the lease and serves (leader), the
others are standbys that answer with the leader's address and take over
within about one lease after the leader dies or is paused.

  --meta <url>              where the lease, epoch and timestamp limit live (required; or PERCOLATOR_ORACLE_META):
                            postgres://... (a Postgres database), or
                            etcd://h1:2379,h2:2379,h3:2379[/prefix] (an etcd cluster; keys under /prefix,
                            default /percolator/oracle), or over TLS
                            etcds://h1:2379,...[/prefix]?cacert=<pem>&cert=<pem>&key=<pem> (the CA, else the
                            system's roots; a client certificate and key for members that require one)
  --listen <host:port>      gRPC address (default ${ORACLE_DEFAULTS.listen}; port 0 = any free port)
  --advertise <host:port>   address clients are redirected to (default: the bound listen address)
  --lease <duration>        leader lease (default ${ORACLE_DEFAULTS.leaseMs}ms); a standby takes over after it runs out
  --window <duration>       how far ahead the timestamp limit is persisted (default ${ORACLE_DEFAULTS.windowMs}ms)
                            (durations: 500ms, 3s, 1m; a bare number is seconds)
  --max-count <n>           largest range one request may ask for (default ${ORACLE_DEFAULTS.maxCount}, at most 262144)
  --tls-cert <file>         PEM certificate chain: serve TLS
  --tls-key <file>          PEM private key for --tls-cert
  --tls-ca <file>           PEM CA: require client certificates signed by it (mutual TLS)
  --token <token>           require "authorization: Bearer <token>" (or PERCOLATOR_ORACLE_TOKEN, --token-file)
  --token-file <file>       read the token from a file
                            (an empty token is refused: it would turn authentication off)
  --insecure                allow a non-loopback --listen without TLS (refused otherwise; warned about)
  --metrics-listen <host:port>  serve Prometheus metrics at GET /metrics
  --parent-pid <pid>        exit gracefully when that process is gone (the test harness passes its own pid)
  --test-clock-offset-file <file>  TESTS ONLY: add the integer milliseconds in this file to the wall clock

Prints one JSON line per state change on stdout ({"event":"listening"|"leader"|"follower"|"stopped",...});
logs go to stderr (PERCOLATOR_LOG_LEVEL). SIGTERM/SIGINT: stop serving, release the lease, exit 0.`;

function parseOptions(argv: string[]) {
  return parseCommandArgs('oracle', {
    args: argv,
    strict: true,
    options: {
      meta: { type: 'string' },
      listen: { type: 'string' },
      advertise: { type: 'string' },
      lease: { type: 'string' },
      window: { type: 'string' },
      'max-count': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      insecure: { type: 'boolean' },
      'metrics-listen': { type: 'string' },
      'parent-pid': { type: 'string' },
      'test-clock-offset-file': { type: 'string' },
    },
  }, `\n${help}`)?.values;
}

/** Longest lease or window accepted: a bare number is seconds, so `--lease 3000` (meant as ms) would be 50 minutes. */
const MAX_LEASE_OR_WINDOW_MS = 10 * 60_000;

function checkAtMost(flag: string, ms: number | undefined, consequence: string): void {
  if (ms === undefined || ms <= MAX_LEASE_OR_WINDOW_MS) return;
  throw new InvalidInputError(`${flag} ${ms / 1000}s is longer than 10 minutes: ${consequence} (a bare number is seconds; write e.g. 3000ms for milliseconds)`);
}

export async function run(argv: string[]): Promise<number> {
  const values = parseOptions(argv);
  if (!values) return 2;
  const metaUrl = values.meta ?? process.env.PERCOLATOR_ORACLE_META;
  if (!metaUrl) {
    console.error('percolator oracle: --meta <postgres-url | etcd-url> is required\n\n' + help);
    return 2;
  }
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) {
    console.error('percolator oracle: --tls-cert and --tls-key go together');
    return 2;
  }
  let leaseMs: number | undefined, windowMs: number | undefined;
  try {
    leaseMs = values.lease ? parseDurationFlagMs('--lease', values.lease) : undefined;
    windowMs = values.window ? parseDurationFlagMs('--window', values.window) : undefined;
    checkAtMost('--lease', leaseMs, 'a standby would wait that long to take over from a dead leader');
    checkAtMost('--window', windowMs, 'every restart would skip that much of the timestamp space');
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    console.error(`percolator oracle: ${error.message}`);
    return 2;
  }
  let token: string | undefined;
  try {
    token = values.token ?? (values['token-file'] !== undefined ? readFileSync(values['token-file'], 'utf8').trim() : process.env.PERCOLATOR_ORACLE_TOKEN);
  } catch (error) {
    console.error(`percolator oracle: cannot read --token-file: ${(error as Error).message}`);
    return 2;
  }
  const logger = createCliLogger();
  const event = (fields: Record<string, unknown>): void => {
    process.stdout.write(`${JSON.stringify(fields)}\n`);
  };

  let oracle;
  try {
    oracle = await startOracleServer({
      metaUrl,
      listen: values.listen,
      advertise: values.advertise,
      leaseMs,
      windowMs,
      maxCount: values['max-count'] ? Number(values['max-count']) : undefined,
      tls: values['tls-cert']
        ? {
            cert: readFileSync(values['tls-cert']),
            key: readFileSync(values['tls-key']!),
            ca: values['tls-ca'] ? readFileSync(values['tls-ca']) : undefined,
          }
        : undefined,
      // Passed on even when empty: the server refuses an empty token instead of running open.
      token,
      insecure: values.insecure ?? false,
      metricsListen: values['metrics-listen'],
      clock: values['test-clock-offset-file'] ? offsetFileClock(values['test-clock-offset-file']) : systemClock,
      logger,
      onRoleChange: (role, info) => event({ event: role, epoch: info.epoch.toString(), leader: info.leaderAddress }),
    });
  } catch (error) {
    const known = error instanceof PercolatorError || error instanceof RangeError;
    console.error(`percolator oracle: could not start: ${known ? error.message : String(error)}`);
    if (!known) logger.error({ err: error }, 'oracle start failed');
    return 1;
  }
  event({ event: 'listening', address: oracle.address, advertise: oracle.advertiseAddress, metrics: oracle.metricsAddress ?? null, nodeId: oracle.node.id, pid: process.pid });

  const running = oracle;
  await new Promise<void>((resolve) => {
    const shutdown = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGTERM', shutdown);
    process.once('SIGINT', shutdown);
    const parentPid = Number(values['parent-pid']);
    if (values['parent-pid'] !== undefined) {
      // Even a SIGKILLed test runner leaves no oracle behind.
      setInterval(() => {
        if (!isAlive(parentPid)) shutdown('SIGHUP');
      }, 500).unref();
    }
  });
  await running.close();
  event({ event: 'stopped' });
  return 0;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
