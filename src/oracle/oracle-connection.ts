import { Client, credentials as grpcCredentials, Metadata, status, type ChannelCredentials, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { GetTimestampsRequest, GetTimestampsResponse, TimestampOracleDefinition } from './generated/tso.js';
import { LEADER_EPOCH_TRAILER, LEADER_TRAILER } from './protocol-constants.js';

const SERVICE_PATH = `/${TimestampOracleDefinition.fullName}`;
const STREAM_PATH = `${SERVICE_PATH}/${TimestampOracleDefinition.methods.streamTimestamps.name}`;
const UNARY_PATH = `${SERVICE_PATH}/${TimestampOracleDefinition.methods.getTimestamps.name}`;

const serializeRequest = (request: GetTimestampsRequest): Buffer => Buffer.from(GetTimestampsRequest.encode(request).finish());
const deserializeResponse = (bytes: Buffer): GetTimestampsResponse => GetTimestampsResponse.decode(bytes);

/** A failed attempt against one oracle address, with what the client needs to decide where to go next. */
export class OracleCallError extends Error {
  constructor(
    readonly address: string,
    readonly code: status,
    readonly details: string,
    /** The leader's address when the server named it (follower answering). */
    readonly leaderHint: string | undefined,
    /** An oracle process answered (not leader, or cannot serve now): the connection itself is fine. */
    readonly answeredByOracle = false,
    /** Fencing epoch of the leader named in `leaderHint`, when the server sent it. */
    readonly leaderEpoch?: bigint,
  ) {
    super(`${address}: ${status[code] ?? code}: ${details}`);
  }

  /** Nothing listens at the address (TCP connection refused). */
  get refused(): boolean {
    return !this.answeredByOracle && this.code === status.UNAVAILABLE && /\bECONNREFUSED\b/.test(this.details);
  }
}

export interface ConnectionOptions {
  credentials?: ChannelCredentials;
  token?: string;
}

/**
 * One oracle address: a gRPC channel and, lazily, one bidirectional stream
 * carrying requests one at a time (the client never has two in flight on it).
 * Uses @grpc/grpc-js directly: error trailers (leader hints) arrive with the
 * error, and no async-iterator hop per message.
 */
export class OracleConnection {
  private readonly client: Client;
  private stream: TimestampStream | undefined;

  constructor(readonly address: string, private readonly options: ConnectionOptions) {
    this.client = new Client(address, options.credentials ?? grpcCredentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      'grpc.min_reconnect_backoff_ms': 100,
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.enable_retries': 0,
    });
  }

  private metadata(): Metadata {
    const metadata = new Metadata();
    if (this.options.token) metadata.set('authorization', `Bearer ${this.options.token}`);
    return metadata;
  }

  /** One range over the stream; on any failure the stream is dropped and the next call opens a new one. */
  requestOverStream(count: number, timeoutMs: number): Promise<GetTimestampsResponse> {
    if (!this.stream || this.stream.broken) this.stream = new TimestampStream(this.address, this.client, this.metadata());
    return this.stream.request(count, timeoutMs);
  }

  /** One range with one unary call (no stream). */
  requestUnary(count: number, timeoutMs: number): Promise<GetTimestampsResponse> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        UNARY_PATH,
        serializeRequest,
        deserializeResponse,
        { count },
        this.metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, response) => {
          if (error) reject(toCallError(this.address, error));
          else resolve(response!);
        },
      );
    });
  }

  /** One unary call of another method of the service (placement maps). */
  call<Req, Res>(
    method: string,
    codecs: { request: { encode(request: Req): { finish(): Uint8Array } }; response: { decode(bytes: Uint8Array): Res } },
    request: Req,
    timeoutMs: number,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        `${SERVICE_PATH}/${method}`,
        (value: Req) => Buffer.from(codecs.request.encode(value).finish()),
        (bytes: Buffer) => codecs.response.decode(bytes),
        request,
        this.metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, response) => {
          if (error) reject(toCallError(this.address, error));
          else resolve(response!);
        },
      );
    });
  }

  close(): void {
    this.stream?.cancel();
    this.client.close();
  }
}

class TimestampStream {
  broken = false;
  private readonly call: ClientDuplexStream<GetTimestampsRequest, GetTimestampsResponse>;
  private pending: { resolve(response: GetTimestampsResponse): void; reject(error: Error): void; timer: NodeJS.Timeout } | undefined;

  constructor(private readonly address: string, client: Client, metadata: Metadata) {
    this.call = client.makeBidiStreamRequest(STREAM_PATH, serializeRequest, deserializeResponse, metadata);
    this.call.on('data', (response: GetTimestampsResponse) => {
      const pending = this.pending;
      this.pending = undefined;
      if (!pending) return this.fail(new OracleCallError(address, status.INTERNAL, 'unexpected response on stream', undefined));
      clearTimeout(pending.timer);
      pending.resolve(response);
    });
    this.call.on('error', (error: ServiceError) => this.fail(toCallError(address, error)));
    this.call.on('end', () => this.fail(new OracleCallError(address, status.UNAVAILABLE, 'stream ended by the server', undefined)));
  }

  request(count: number, timeoutMs: number): Promise<GetTimestampsResponse> {
    return new Promise((resolve, reject) => {
      if (this.broken || this.pending) {
        reject(new OracleCallError(this.address, status.UNAVAILABLE, 'stream not usable', undefined));
        return;
      }
      const timer = setTimeout(() => {
        this.fail(new OracleCallError(this.address, status.DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`, undefined));
        this.call.cancel();
      }, timeoutMs);
      this.pending = { resolve, reject, timer };
      this.call.write({ count });
    });
  }

  cancel(): void {
    this.fail(new OracleCallError(this.address, status.CANCELLED, 'client closed', undefined));
    this.call.cancel();
  }

  private fail(error: OracleCallError): void {
    this.broken = true;
    const pending = this.pending;
    this.pending = undefined;
    if (pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
  }
}

function toCallError(address: string, error: ServiceError): OracleCallError {
  const trailer = error.metadata?.get(LEADER_TRAILER) ?? [];
  const hint = trailer[0];
  const epoch = error.metadata?.get(LEADER_EPOCH_TRAILER)[0];
  return new OracleCallError(
    address,
    error.code ?? status.UNKNOWN,
    error.details ?? error.message,
    typeof hint === 'string' && hint ? hint : undefined,
    trailer.length > 0,
    typeof epoch === 'string' && /^\d+$/.test(epoch) ? BigInt(epoch) : undefined,
  );
}
