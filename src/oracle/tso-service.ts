import { ServerError, Status, type CallContext } from 'nice-grpc';
import { OracleNotLeaderError, OracleUnavailableError } from '../errors.js';
import type { GetTimestampsRequest, GetTimestampsResponse, TimestampOracleServiceImplementation } from './generated/tso.js';
import type { OracleMetrics } from './oracle-metrics.js';
import type { OracleNode } from './oracle-node.js';
import { LEADER_EPOCH_TRAILER, LEADER_TRAILER } from './protocol-constants.js';


/**
 * The gRPC face of the oracle: validates, asks the node, and translates
 * errors to status codes. No logic of its own.
 */
export function createTsoService(node: OracleNode, options: { maxCount: number; metrics: OracleMetrics }): TimestampOracleServiceImplementation {
  const { maxCount, metrics } = options;

  async function serve(request: GetTimestampsRequest, method: string, context: CallContext): Promise<GetTimestampsResponse> {
    const stopTimer = metrics.rpcDuration.startTimer({ method });
    let code = 'OK';
    try {
      const count = request.count;
      if (!Number.isInteger(count) || count < 1 || count > maxCount) {
        code = 'INVALID_ARGUMENT';
        throw new ServerError(Status.INVALID_ARGUMENT, `count must be between 1 and ${maxCount}, got ${count}`);
      }
      metrics.batchSize.observe(count);
      const first = await node.allocate(count);
      return { first, count, epoch: node.currentEpoch };
    } catch (error) {
      if (error instanceof ServerError) throw error;
      if (error instanceof OracleNotLeaderError) {
        code = 'UNAVAILABLE';
        // Always set (empty when unknown): it also tells the client that an oracle answered.
        context.trailer.set(LEADER_TRAILER, error.leaderAddress ?? '');
        // The hint's epoch lets a client that has seen a newer leader ignore a stale hint.
        if (error.leaderAddress && error.leaderEpoch !== undefined) context.trailer.set(LEADER_EPOCH_TRAILER, error.leaderEpoch.toString());
        throw new ServerError(Status.UNAVAILABLE, error.message);
      }
      if (error instanceof OracleUnavailableError) {
        code = 'UNAVAILABLE';
        context.trailer.set(LEADER_TRAILER, '');
        throw new ServerError(Status.UNAVAILABLE, error.message);
      }
      code = 'UNAVAILABLE';
      throw new ServerError(Status.UNAVAILABLE, `oracle could not serve: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      stopTimer({ code });
    }
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
  };
}
