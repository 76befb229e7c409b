import { createChannel, createClient, type Channel } from 'nice-grpc';
import { TimestampOracleDefinition, type TimestampOracleClient } from '../../../src/oracle/generated/tso.js';

/** A plain generated client for one address: no batching, no failover (to poke one process directly). */
export function rawOracleClient(address: string): { client: TimestampOracleClient; channel: Channel } {
  const channel = createChannel(address);
  return { client: createClient(TimestampOracleDefinition, channel), channel };
}
