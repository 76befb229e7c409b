import { ServerCredentials } from '@grpc/grpc-js';
import os from 'node:os';
import { createServer } from 'nice-grpc';
import { HealthDefinition, HealthServiceImpl, HealthState } from 'nice-grpc-server-health';
import { Registry } from 'prom-client';
import { silentLogger, type Logger } from '../logger.js';
import { bearerTokenMiddleware } from './bearer-token-middleware.js';
import { systemClock, type WallClock } from './clock.js';
import { TimestampOracleDefinition } from './generated/tso.js';
import { joinHostPort, splitHostPort } from './host-port.js';
import { openMetaStore } from './meta-store.js';
import { checkOracleAddress } from './oracle-address.js';
import { startMetricsEndpoint } from './metrics-endpoint.js';
import { OracleMetrics } from './oracle-metrics.js';
import { OracleNode, type OracleRole } from './oracle-node.js';
import { DEFAULT_MAX_COUNT, HARD_MAX_COUNT } from './protocol-constants.js';
import { checkSecurityPosture } from './security-posture.js';
import { createTsoService } from './tso-service.js';

export interface OracleServerOptions {
  /** The meta store (lease, epoch, timestamp limit): postgres://... or etcd://host:port,host:port[/prefix]. */
  metaUrl: string;
  /** host:port to listen on; port 0 picks a free one. Default 127.0.0.1:7070. */
  listen?: string;
  /** Address clients are redirected to when this process leads. Default: the bound listen address. */
  advertise?: string;
  leaseMs?: number;
  windowMs?: number;
  /** Largest count one request may ask for. */
  maxCount?: number;
  /** PEM contents. With `ca`, clients must present a certificate signed by it (mutual TLS). */
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer };
  /** Require `authorization: Bearer <token>` on the oracle service (health stays open). An empty token is refused. */
  token?: string;
  /** Listen on a non-loopback address without TLS (refused otherwise; warned about either way). */
  insecure?: boolean;
  /** host:port for the Prometheus endpoint (GET /metrics); none if absent. */
  metricsListen?: string;
  clock?: WallClock;
  logger?: Logger;
  registry?: Registry;
  onRoleChange?(role: OracleRole, info: { epoch: bigint; leaderAddress: string | null }): void;
}

export interface RunningOracle {
  /** The bound gRPC address, host:port. */
  address: string;
  advertiseAddress: string;
  metricsAddress: string | undefined;
  node: OracleNode;
  /** Graceful: stop serving, give up the lease, close connections, close the meta pool. */
  close(): Promise<void>;
}

export const ORACLE_DEFAULTS = {
  listen: '127.0.0.1:7070',
  leaseMs: 3000,
  windowMs: 3000,
  maxCount: DEFAULT_MAX_COUNT,
} as const;

/**
 * Timestamp requests are a few bytes, a placement map about 8 KiB plus its
 * shards' URLs; anything larger is refused (RESOURCE_EXHAUSTED) before decoding.
 */
const MAX_REQUEST_BYTES = 32 * 1024;

/** Starts one oracle process's server: meta store, gRPC (oracle + health), metrics, election. */
export async function startOracleServer(options: OracleServerOptions): Promise<RunningOracle> {
  const logger = (options.logger ?? silentLogger).child({ component: 'oracle' });
  const leaseMs = options.leaseMs ?? ORACLE_DEFAULTS.leaseMs;
  const windowMs = options.windowMs ?? ORACLE_DEFAULTS.windowMs;
  const maxCount = options.maxCount ?? ORACLE_DEFAULTS.maxCount;
  if (!Number.isInteger(maxCount) || maxCount < 1 || maxCount > HARD_MAX_COUNT) {
    throw new RangeError(`max count must be between 1 and ${HARD_MAX_COUNT}, got ${maxCount}`);
  }
  if (!(leaseMs >= 200) || !(windowMs >= 100)) throw new RangeError('lease must be >= 200 ms and window >= 100 ms');
  const listen = splitHostPort(options.listen ?? ORACLE_DEFAULTS.listen);
  if (options.advertise !== undefined) checkOracleAddress(options.advertise);
  const warnings = checkSecurityPosture({ listenHost: listen.host, tls: options.tls !== undefined, token: options.token, insecure: options.insecure ?? false });
  for (const warning of warnings) logger.warn({ listen: options.listen ?? ORACLE_DEFAULTS.listen }, warning);
  const clock = options.clock ?? systemClock;
  const metrics = new OracleMetrics(options.registry ?? new Registry());
  const store = await openMetaStore(options.metaUrl, { logger, queryTimeoutMs: Math.max(500, leaseMs / 2), startTimeoutMs: 30_000 });

  const health = HealthState();
  const server = createServer({
    'grpc.max_receive_message_length': MAX_REQUEST_BYTES,
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
    'grpc.keepalive_permit_without_calls': 1,
  });
  server.add(HealthDefinition, HealthServiceImpl(health));

  const node = new OracleNode({
    store,
    clock,
    leaseMs,
    windowMs,
    logger,
    metrics,
    onRoleChange(role, info) {
      health.setStatus(role === 'leader' ? 'healthy' : 'unhealthy', TimestampOracleDefinition.fullName);
      options.onRoleChange?.(role, info);
    },
  });
  health.setStatus('unhealthy', TimestampOracleDefinition.fullName);
  const service = createTsoService(node, { maxCount, metrics });
  if (options.token) server.with(bearerTokenMiddleware(options.token)).add(TimestampOracleDefinition, service);
  else server.add(TimestampOracleDefinition, service);

  let port: number;
  let metricsEndpoint: Awaited<ReturnType<typeof startMetricsEndpoint>> | undefined;
  try {
    metricsEndpoint = options.metricsListen ? await startMetricsEndpoint(options.metricsListen, metrics.registry) : undefined;
    const credentials = options.tls
      ? ServerCredentials.createSsl(options.tls.ca ?? null, [{ cert_chain: options.tls.cert, private_key: options.tls.key }], options.tls.ca !== undefined)
      : ServerCredentials.createInsecure();
    port = await server.listen(joinHostPort(listen.host, listen.port), credentials);
  } catch (error) {
    server.forceShutdown();
    await metricsEndpoint?.close();
    await store.close();
    throw error;
  }

  const address = joinHostPort(listen.host, port);
  // A wildcard listen address is no use to clients being redirected: name this host instead.
  const wildcard = listen.host === '0.0.0.0' || listen.host === '::' || listen.host === '';
  const advertiseAddress = options.advertise ?? (wildcard ? joinHostPort(os.hostname(), port) : address);
  node.start(advertiseAddress);
  logger.info({ address, advertiseAddress, nodeId: node.id, leaseMs, windowMs, maxCount }, 'oracle listening');

  let closing: Promise<void> | undefined;
  return {
    address,
    advertiseAddress,
    metricsAddress: metricsEndpoint?.address,
    node,
    close: () =>
      (closing ??= (async () => {
        await node.stop();
        // Open streams would keep a graceful shutdown waiting forever: give them a moment, then cut.
        const graceful = server.shutdown();
        const timer = setTimeout(() => server.forceShutdown(), 500);
        await graceful;
        clearTimeout(timer);
        await metricsEndpoint?.close();
        await store.close();
        clock.close?.();
        logger.info('oracle stopped');
      })()),
  };
}
