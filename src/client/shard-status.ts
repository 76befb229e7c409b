import { Registry } from 'prom-client';
import { createOracleClient } from '../oracle/oracle-client.js';
import { redactUrl } from '../redact.js';
import { createTransactionEngine } from '../txn/transaction-engine.js';
import { resolveClusterPlacement } from './cluster-placement.js';
import { shardStatus, type ShardStatusRow } from '../shard/shard-status-statements.js';
import type { Placement } from '../txn/placement.js';

/** One shard as db.shardStatus() reports it. */
export interface ShardStatusEntry {
  readonly id: number;
  /** The shard's URL without its password. */
  readonly address: string;
  /** Slots the placement map assigns to it. */
  readonly slots: number;
  /** Slots the shard itself records as owned (equal to `slots` unless a move is under way or was interrupted). */
  readonly ownedSlots: number;
  /** Owned slots refusing writes: a move under way, or one interrupted (run it again). */
  readonly frozenSlots: number;
  /** Stored versions, all tables (Postgres's estimate). */
  readonly versions: number;
  readonly bytes: number;
}

export interface ShardStatus {
  /** Undefined until the first migrate() (the oracle keeps no map yet), or without an oracle that keeps maps. */
  readonly clusterId: string | undefined;
  readonly mapVersion: bigint;
  readonly slotCount: number;
  readonly shards: readonly ShardStatusEntry[];
}

/** Reads the map again and asks every shard of it what it holds. */
export async function readShardStatus(placement: Placement): Promise<ShardStatus> {
  await placement.refresh();
  const map = placement.map;
  const slotsOf = map.slotsByShard();
  const shards = await Promise.all(
    map.shards.map(async ({ id, url }) => {
      const { rows } = await placement.shards[id]!.query<ShardStatusRow>(shardStatus);
      const row = rows[0]!;
      return {
        id,
        address: redactUrl(url),
        slots: slotsOf.get(id)?.length ?? 0,
        ownedSlots: row.owned,
        frozenSlots: row.frozen,
        versions: Number(row.versions),
        bytes: Number(row.bytes),
      };
    }),
  );
  return { clusterId: map.clusterId || undefined, mapVersion: map.version, slotCount: map.slots.length, shards };
}

/** The status of a cluster given only its oracle (and, before the oracle keeps its map, its shards): `percolator shards status`. */
export async function readClusterStatus(oracleAddresses: string[], shards: readonly string[] | undefined): Promise<ShardStatus> {
  const oracle = createOracleClient({ addresses: oracleAddresses });
  try {
    const cluster = await resolveClusterPlacement(shards, undefined, oracle, [], 5_000);
    const engine = createTransactionEngine({ shards: cluster.shards, placement: cluster.placement, timestampSource: oracle, registry: new Registry(), gc: false });
    try {
      return await readShardStatus(engine.placement);
    } finally {
      await engine.close();
    }
  } finally {
    await oracle.close();
  }
}
