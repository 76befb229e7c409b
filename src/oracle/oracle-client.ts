import { status, type ChannelCredentials } from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Histogram, Registry } from 'prom-client';
import { InvalidInputError, OracleConnectionRefusedError, OracleRequestRejectedError, OracleUnavailableError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { Timestamp } from '../timestamp.js';
import { checkOracleAddress, isOracleAddress } from './oracle-address.js';
import { OracleCallError, OracleConnection } from './oracle-connection.js';
import { oracleChannelCredentials, type OracleTlsOptions } from './oracle-credentials.js';
import { DEFAULT_MAX_COUNT } from './protocol-constants.js';
import { RequestCoalescer } from './request-coalescer.js';
import type { TimestampSource } from './timestamp-source.js';
import { GetPlacementRequest, GetPlacementResponse, UpdatePlacementRequest, UpdatePlacementResponse } from './generated/tso.js';
import type { PlacementRead, PlacementWrite, StoredPlacement } from './placement-store.js';

export interface OracleClientOptions {
  /** host:port (or [v6]:port) of every oracle process (leader and standbys), in any order; anything else is InvalidInputError. */
  addresses: string[];
  /** How long one getTimestamp() may wait for a leader before OracleUnavailableError. Default 5000. */
  deadlineMs?: number;
  /** How long one attempt against one address may take before trying the next. Default 1000. */
  attemptTimeoutMs?: number;
  /** Largest count per request; must not exceed the server's --max-count. Default 100000. */
  maxCount?: number;
  logger?: Logger;
  /** prom-client registry for the client's metrics (default: a private one). */
  registry?: Registry;
  /** Bearer token the oracle requires (--token); an empty one is InvalidInputError. */
  token?: string;
  /** TLS to the oracle: PEM contents. `ca` to trust a private CA; `cert` + `key` for mutual TLS. */
  tls?: OracleTlsOptions;
}

/** A contiguous range of timestamps [first, first + count). */
export interface TimestampRange {
  first: Timestamp;
  count: number;
}

export interface OracleClient extends TimestampSource {
  getTimestamp(options?: { signal?: AbortSignal }): Promise<Timestamp>;
  /** `count` consecutive timestamps in one range (1 .. maxCount). */
  getTimestamps(count: number, options?: { signal?: AbortSignal }): Promise<TimestampRange>;
  /** One unary RPC for `count` timestamps, bypassing batching (benchmarks, diagnostics). */
  getTimestampsUnbatched(count: number): Promise<TimestampRange>;
  /** The highest placement generation a range carried: a map read at a lower one may be stale. */
  readonly placementGeneration: bigint;
  /** A cluster's placement map (undefined `clusterId`: the only cluster the oracle keeps). */
  readPlacement(clusterId: string | undefined): Promise<PlacementRead>;
  /** Writes a map if the stored version is `expectedVersion` (0: none); at the leader. */
  writePlacement(placement: StoredPlacement, expectedVersion: bigint): Promise<PlacementWrite>;
  close(): Promise<void>;
}

/**
 * A batching, failing-over client of the timestamp oracle.
 *
 * @example
 * const oracle = createOracleClient({ addresses: ['127.0.0.1:7070', '127.0.0.1:7071'] });
 * const startTs = await oracle.getTimestamp();
 * await oracle.close();
 */
export function createOracleClient(options: OracleClientOptions): OracleClient {
  return new BatchingOracleClient(options);
}

class BatchingOracleClient implements OracleClient {
  private readonly connections = new Map<string, OracleConnection>();
  private readonly addresses: string[];
  /** Where the next attempt goes: the last known leader. */
  private current: string;
  private readonly coalescer: RequestCoalescer;
  private readonly deadlineMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly maxCount: number;
  private readonly credentials: ChannelCredentials;
  private readonly logger: Logger;
  private readonly metrics: ClientMetrics;
  /** Highest fencing epoch a leader answered with: hints naming an older leader are stale. */
  private highestEpoch = 0n;
  private everAnswered = false;
  private closed = false;
  private generation = 0n;

  constructor(private readonly options: OracleClientOptions) {
    if (!Array.isArray(options.addresses) || options.addresses.length === 0) throw new InvalidInputError('oracle client needs at least one address');
    this.addresses = options.addresses.map(checkOracleAddress);
    this.current = this.addresses[0]!;
    this.deadlineMs = options.deadlineMs ?? 5000;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 1000;
    this.maxCount = options.maxCount ?? DEFAULT_MAX_COUNT;
    this.logger = (options.logger ?? silentLogger).child({ component: 'oracle-client' });
    this.metrics = new ClientMetrics(options.registry ?? new Registry());
    this.credentials = oracleChannelCredentials(options.token, options.tls);
    this.coalescer = new RequestCoalescer(
      (count, deadline) => this.fetchWithFailover(count, deadline, 'stream'),
      this.maxCount,
      this.deadlineMs,
      (count) => this.metrics.batchSize.observe(count),
    );
  }

  getTimestamp(options?: { signal?: AbortSignal }): Promise<Timestamp> {
    if (this.closed) return Promise.reject(new OracleUnavailableError('oracle client is closed'));
    return options?.signal ? this.coalescer.takeWithSignal(1, options.signal) : this.coalescer.take(1);
  }

  async getTimestamps(count: number, options?: { signal?: AbortSignal }): Promise<TimestampRange> {
    this.checkCount(count);
    if (this.closed) throw new OracleUnavailableError('oracle client is closed');
    const first = options?.signal ? this.coalescer.takeWithSignal(count, options.signal) : this.coalescer.take(count);
    return { first: await first, count };
  }

  async getTimestampsUnbatched(count: number): Promise<TimestampRange> {
    this.checkCount(count);
    if (this.closed) throw new OracleUnavailableError('oracle client is closed');
    return { first: await this.fetchWithFailover(count, performance.now() + this.deadlineMs, 'unary'), count };
  }

  get placementGeneration(): bigint {
    return this.generation;
  }

  async readPlacement(clusterId: string | undefined): Promise<PlacementRead> {
    const response = await this.callWithFailover('GetPlacement', { request: GetPlacementRequest, response: GetPlacementResponse }, { clusterId: clusterId ?? '' });
    this.noteGeneration(response.generation);
    return { placement: response.found ? response.placement && storedOf(response.placement) : undefined, generation: response.generation };
  }

  async writePlacement(placement: StoredPlacement, expectedVersion: bigint): Promise<PlacementWrite> {
    const request = { placement: { ...placement, shards: [...placement.shards], slots: Buffer.from(placement.slots) }, expectedVersion };
    const response = await this.callWithFailover('UpdatePlacement', { request: UpdatePlacementRequest, response: UpdatePlacementResponse }, request);
    this.noteGeneration(response.generation);
    return { applied: response.applied, placement: response.current && storedOf(response.current), generation: response.generation };
  }

  private noteGeneration(generation: bigint): void {
    if (generation > this.generation) this.generation = generation;
  }

  /**
   * A placement call: to the last known leader first, then the leader it
   * names or the next address, until the deadline. Rejections fail at once.
   */
  private async callWithFailover<Req, Res>(method: string, codecs: { request: { encode(r: Req): { finish(): Uint8Array } }; response: { decode(b: Uint8Array): Res } }, request: Req): Promise<Res> {
    const deadline = performance.now() + this.deadlineMs;
    let lastError: OracleCallError | undefined;
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new OracleUnavailableError('oracle client is closed');
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new OracleUnavailableError(`no oracle answered ${method} within ${this.deadlineMs} ms (last error: ${lastError?.message ?? 'none'})`, { cause: lastError });
      const address = this.current;
      try {
        return await this.connection(address).call(method, codecs, request, Math.min(remaining, this.attemptTimeoutMs));
      } catch (error) {
        if (!(error instanceof OracleCallError)) throw error;
        lastError = error;
        if (REJECTIONS.has(error.code) || error.code === status.FAILED_PRECONDITION) {
          throw new OracleRequestRejectedError(`oracle refused ${method}: ${error.message}`, { cause: error });
        }
        if (error.leaderHint && error.leaderHint !== address && this.trustsHint(error)) {
          this.current = error.leaderHint;
          if (!this.addresses.includes(error.leaderHint)) this.addresses.push(error.leaderHint);
        } else {
          this.current = this.addresses[(this.addresses.indexOf(address) + 1) % this.addresses.length]!;
          if ((attempt + 1) % this.addresses.length === 0) await sleep(Math.min(200, Math.max(0, deadline - performance.now())));
        }
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.coalescer.rejectAll(new OracleUnavailableError('oracle client is closed'));
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }

  private checkCount(count: number): void {
    if (!Number.isInteger(count) || count < 1 || count > this.maxCount) {
      throw new InvalidInputError(`timestamp count must be between 1 and ${this.maxCount}, got ${count}`);
    }
  }

  private connection(address: string): OracleConnection {
    let connection = this.connections.get(address);
    if (!connection) {
      connection = new OracleConnection(address, { credentials: this.credentials, token: this.options.token });
      this.connections.set(address, connection);
    }
    return connection;
  }

  /**
   * Asks the last known leader; on failure follows the leader the server
   * named, else tries the next address, backing off after each full round,
   * until `deadline`. Refusals that retrying cannot fix (bad count, bad
   * token) fail at once.
   */
  private async fetchWithFailover(count: number, deadline: number, mode: 'stream' | 'unary'): Promise<Timestamp> {
    let redirects = 0;
    /**
     * Addresses that refused the connection since the last other failure. All
     * of them ends the call at once while no oracle ever answered this client
     * (a wrong address or an oracle not started); once one has, refusals are
     * a restart in progress, waited out until the deadline.
     */
    const refused = new Set<string>();
    let failedInRound = 0;
    let rounds = 0;
    let lastError: OracleCallError | undefined;
    for (;;) {
      if (this.closed) throw new OracleUnavailableError('oracle client is closed');
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        this.metrics.unavailable.inc();
        if (lastError?.refused && this.addresses.every((a) => refused.has(a))) throw new OracleConnectionRefusedError(this.addresses, { cause: lastError });
        throw new OracleUnavailableError(
          `no oracle leader answered within ${this.deadlineMs} ms (addresses: ${this.addresses.join(', ')}; last error: ${lastError?.message ?? 'none'})`,
          { cause: lastError },
        );
      }
      const address = this.current;
      const connection = this.connection(address);
      const timeoutMs = Math.min(remaining, this.attemptTimeoutMs);
      try {
        this.metrics.requests.inc({ mode });
        const response =
          mode === 'stream' ? await connection.requestOverStream(count, timeoutMs) : await connection.requestUnary(count, timeoutMs);
        if (response.count !== count) {
          throw new OracleCallError(address, status.INTERNAL, `asked for ${count} timestamps, got ${response.count}`, undefined);
        }
        if (response.epoch > this.highestEpoch) this.highestEpoch = response.epoch;
        this.noteGeneration(response.placementGeneration);
        this.everAnswered = true;
        return response.first;
      } catch (error) {
        if (!(error instanceof OracleCallError)) throw error;
        lastError = error;
        if (REJECTIONS.has(error.code)) {
          throw new OracleRequestRejectedError(`oracle refused the request: ${error.message}`, { cause: error });
        }
        this.metrics.failovers.inc();
        this.logger.debug({ address, code: status[error.code], details: error.details, hint: error.leaderHint }, 'oracle attempt failed');
        if (!error.answeredByOracle) {
          // Unreachable or stuck: a fresh channel next time reconnects at once instead of
          // waiting out grpc-js's reconnect backoff (which can exceed a short deadline).
          this.connections.get(address)?.close();
          this.connections.delete(address);
        }
        if (error.refused) {
          refused.add(address);
          if (!this.everAnswered && this.addresses.every((a) => refused.has(a))) {
            this.metrics.unavailable.inc();
            throw new OracleConnectionRefusedError(this.addresses, { cause: error });
          }
        } else {
          refused.clear();
        }
        // A leader named by the server is worth trying at once, but not forever (hints can be stale).
        if (error.leaderHint && error.leaderHint !== address && redirects < 2 && this.trustsHint(error)) {
          redirects++;
          this.current = error.leaderHint;
          if (!this.addresses.includes(error.leaderHint)) this.addresses.push(error.leaderHint);
          continue;
        }
        redirects = 0;
        this.current = this.addresses[(this.addresses.indexOf(address) + 1) % this.addresses.length]!;
        if (++failedInRound >= this.addresses.length) {
          failedInRound = 0;
          rounds++;
          await sleep(Math.min(500, 25 * 2 ** Math.min(rounds, 5), Math.max(0, deadline - performance.now())));
        }
      }
    }
  }

  /** A hint is followed unless it cannot be dialled or names a leader older than one that answered. */
  private trustsHint(error: OracleCallError): boolean {
    const hint = error.leaderHint!;
    const stale = error.leaderEpoch !== undefined && error.leaderEpoch < this.highestEpoch;
    if (!stale && isOracleAddress(hint)) return true;
    this.logger.debug(
      { from: error.address, hint, hintEpoch: error.leaderEpoch?.toString(), seenEpoch: this.highestEpoch.toString() },
      stale ? 'ignoring a stale leader hint' : 'ignoring a leader hint that is not host:port',
    );
    return false;
  }
}

/** Statuses that mean "this request is wrong or not allowed", not "the oracle is away". */
const REJECTIONS = new Set<status>([
  status.INVALID_ARGUMENT,
  status.UNAUTHENTICATED,
  status.PERMISSION_DENIED,
  status.UNIMPLEMENTED,
  status.OUT_OF_RANGE,
]);

class ClientMetrics {
  readonly requests: Counter<'mode'>;
  readonly batchSize: Histogram;
  readonly failovers: Counter;
  readonly unavailable: Counter;

  constructor(registry: Registry) {
    this.requests = metric(registry, 'percolator_oracle_client_requests_total', () => new Counter({
      name: 'percolator_oracle_client_requests_total',
      help: 'Requests sent to the oracle (stream messages or unary calls)',
      labelNames: ['mode'],
      registers: [registry],
    }));
    this.batchSize = metric(registry, 'percolator_oracle_client_batch_size', () => new Histogram({
      name: 'percolator_oracle_client_batch_size',
      help: 'Timestamps asked for per coalesced request',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000],
      registers: [registry],
    }));
    this.failovers = metric(registry, 'percolator_oracle_client_failed_attempts_total', () => new Counter({
      name: 'percolator_oracle_client_failed_attempts_total',
      help: 'Attempts that failed and moved on to another address or retried',
      registers: [registry],
    }));
    this.unavailable = metric(registry, 'percolator_oracle_client_unavailable_total', () => new Counter({
      name: 'percolator_oracle_client_unavailable_total',
      help: 'Batches that failed with OracleUnavailableError (no leader within the deadline)',
      registers: [registry],
    }));
  }
}

/** Several clients may share one registry: reuse a metric already registered under the name. */
function metric<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

function storedOf(placement: { clusterId: string; version: bigint; shards: { id: number; url: string }[]; slots: Uint8Array }): StoredPlacement {
  return { clusterId: placement.clusterId, version: placement.version, shards: placement.shards.map(({ id, url }) => ({ id, url })), slots: new Uint8Array(placement.slots) };
}
