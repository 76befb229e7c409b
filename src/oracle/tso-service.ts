import { ServerError, Status, type CallContext } from 'nice-grpc';
import { OracleNotLeaderError, OracleRequestRejectedError, OracleUnavailableError } from '../errors.js';
import type { GetTimestampsRequest, GetTimestampsResponse, Placement, TimestampOracleServiceImplementation } from './generated/tso.js';
import type { OracleMetrics } from './oracle-metrics.js';
import type { OracleNode } from './oracle-node.js';
import type { StoredPlacement } from './placement-store.js';
import { LEADER_EPOCH_TRAILER, LEADER_TRAILER } from './protocol-constants.js';

/**
 * The gRPC face of the oracle: validates, asks the node, and translates
 * errors to status codes. No logic of its own.
 */
export function createTsoService(node: OracleNode, options: { maxCount: number; metrics: OracleMetrics }): TimestampOracleServiceImplementation {
  const { maxCount, metrics } = options;

  /** Runs one call, timed and counted by its final status code. */
  async function observed<T>(method: string, context: CallContext, work: () => Promise<T>): Promise<T> {
    const stopTimer = metrics.rpcDuration.startTimer({ method });
    let code = 'OK';
    try {
      return await work();
    } catch (error) {
      const serverError = toServerError(error, context);
      code = Status[serverError.code] ?? 'UNKNOWN';
      throw serverError;
    } finally {
      stopTimer({ code });
    }
  }

  function serve(request: GetTimestampsRequest, method: string, context: CallContext): Promise<GetTimestampsResponse> {
    return observed(method, context, async () => {
      const count = request.count;
      if (!Number.isInteger(count) || count < 1 || count > maxCount) {
        throw new ServerError(Status.INVALID_ARGUMENT, `count must be between 1 and ${maxCount}, got ${count}`);
      }
      metrics.batchSize.observe(count);
      const first = await node.allocate(count);
      // Read after allocating: a range never carries a generation older than the maps written before it.
      return { first, count, epoch: node.currentEpoch, placementGeneration: node.placementGeneration };
    });
  }

  return {
    getTimestamps: (request, context) => serve(request, 'GetTimestamps', context),
    async *streamTimestamps(requests, context) {
      for await (const request of requests) yield await serve(request, 'StreamTimestamps', context);
    },
    async getLeader() {
      const leader = node.leader;
      return { leaderAddress: leader.address ?? '', epoch: leader.epoch, isLeader: node.isServing() };
    },
    getPlacement: (request, context) =>
      observed('GetPlacement', context, async () => {
        const read = await node.readPlacement(request.clusterId === '' ? undefined : checkClusterId(request.clusterId));
        return { found: read.placement !== undefined, placement: read.placement && toWire(read.placement), generation: read.generation };
      }),
    updatePlacement: (request, context) =>
      observed('UpdatePlacement', context, async () => {
        const placement = request.placement && fromWire(request.placement);
        if (!placement) throw new ServerError(Status.INVALID_ARGUMENT, 'placement is required');
        if (placement.version !== request.expectedVersion + 1n) {
          throw new ServerError(Status.INVALID_ARGUMENT, `a placement map moves one version at a time: version ${placement.version} after ${request.expectedVersion}`);
        }
        const written = await node.updatePlacement(placement, request.expectedVersion);
        return { applied: written.applied, current: written.placement && toWire(written.placement), generation: written.generation };
      }),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SLOT_BYTES = 8192;

function checkClusterId(clusterId: string): string {
  if (!UUID.test(clusterId)) throw new ServerError(Status.INVALID_ARGUMENT, `cluster_id must be a uuid, got ${JSON.stringify(clusterId)}`);
  return clusterId;
}

function fromWire(placement: Placement): StoredPlacement {
  if (placement.slots.length !== SLOT_BYTES) throw new ServerError(Status.INVALID_ARGUMENT, `slots must be ${SLOT_BYTES} bytes, got ${placement.slots.length}`);
  const ids = new Set(placement.shards.map((s) => s.id));
  if (ids.size !== placement.shards.length || placement.shards.some((s) => s.url === '')) {
    throw new ServerError(Status.INVALID_ARGUMENT, 'shards must have distinct ids and non-empty URLs');
  }
  const view = new DataView(placement.slots.buffer, placement.slots.byteOffset, placement.slots.byteLength);
  for (let i = 0; i < SLOT_BYTES; i += 2) {
    if (!ids.has(view.getUint16(i, true))) throw new ServerError(Status.INVALID_ARGUMENT, `slot ${i / 2} names shard ${view.getUint16(i, true)}, which the map does not list`);
  }
  return { clusterId: checkClusterId(placement.clusterId), version: placement.version, shards: placement.shards.map(({ id, url }) => ({ id, url })), slots: placement.slots };
}

function toWire(placement: StoredPlacement): Placement {
  return { clusterId: placement.clusterId, version: placement.version, shards: placement.shards.map(({ id, url }) => ({ id, url })), slots: Buffer.from(placement.slots) };
}

/** A node error as the status clients act on (redirects carry the leader in trailers). */
function toServerError(error: unknown, context: CallContext): ServerError {
  if (error instanceof ServerError) return error;
  if (error instanceof OracleRequestRejectedError) return new ServerError(Status.FAILED_PRECONDITION, error.message);
  if (error instanceof OracleNotLeaderError) {
    // Always set (empty when unknown): it also tells the client that an oracle answered.
    context.trailer.set(LEADER_TRAILER, error.leaderAddress ?? '');
    // The hint's epoch lets a client that has seen a newer leader ignore a stale hint.
    if (error.leaderAddress && error.leaderEpoch !== undefined) context.trailer.set(LEADER_EPOCH_TRAILER, error.leaderEpoch.toString());
    return new ServerError(Status.UNAVAILABLE, error.message);
  }
  if (error instanceof OracleUnavailableError) {
    context.trailer.set(LEADER_TRAILER, '');
    return new ServerError(Status.UNAVAILABLE, error.message);
  }
  return new ServerError(Status.UNAVAILABLE, `oracle could not serve: ${error instanceof Error ? error.message : String(error)}`);
}
