import { Registry } from 'prom-client';
import { createOracleClient, type OracleClient } from '../oracle/oracle-client.js';
import { redactUrl } from '../redact.js';
import type { TransactionEngine } from '../txn/engine-contract.js';
import { createTransactionEngine } from '../txn/transaction-engine.js';
import { resolveClusterPlacement } from './cluster-placement.js';
import { shardStatus, type ShardStatusRow } from '../shard/shard-status-statements.js';
import { ownedSlots } from '../shard/slot-ownership-statements.js';
import type { Placement } from '../txn/placement.js';
import { rowsPerShard } from './shard-membership.js';
import { readOpenMoves } from '../txn/slot-move-journal.js';

/** One shard as db.shardStatus() reports it. */
export interface ShardStatusEntry {
  readonly id: number;
  /** The shard's URL without its password. */
  readonly address: string;
  /** Slots the placement map assigns to it. */
  readonly slots: number;
  /** Slots the shard itself records as owned (equal to `slots` unless a move is under way or was interrupted). */
  readonly ownedSlots: number;
  /** Owned slots refusing writes: a move away under way, or one interrupted (run it again). */
  readonly frozenSlots: number;
  /** Slots it owns that the map does not assign to it yet: a move to it under way (granted, map not yet changed), or interrupted. */
  readonly incomingSlots: number;
  /** Live rows of its user tables: Postgres's estimate, or counted when asked (`countRows`). */
  readonly rows: number;
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
  /** Slots some shard is moving (frozen on the source, or granted on the destination before the map names it): 0 when no move is in flight. */
  readonly slotsMoving: number;
  /** Moves journaled and not yet switched and released (under way, or interrupted: run the command again). */
  readonly movesInFlight: readonly { from: number; to: number; slots: number; phase: string; rowsCopied: number }[];
  /** Slots moved away whose old copy waits for the GC safe point to pass the switch before it is deleted from the source. */
  readonly slotsAwaitingDrop: number;
  /**
   * Shards removed from the map whose server must still be kept running:
   * until the GC safe point passes `keepRunningUntil` (the last switch away
   * from it), readers that began before may read it.
   */
  readonly removedShards: readonly { id: number; keepRunningUntil: bigint }[];
}

export interface ShardStatusOptions {
  /** Count live rows exactly (a scan of every table on every shard) instead of Postgres's estimate. */
  readonly countRows?: boolean | undefined;
}

/** Reads the map again and asks every shard of it what it holds. */
export async function readShardStatus(placement: Placement, options: ShardStatusOptions = {}): Promise<ShardStatus> {
  await placement.refresh();
  const map = placement.map;
  const slotsOf = map.slotsByShard();
  const counted = options.countRows ? await rowsPerShard(placement) : undefined;
  const shards = await Promise.all(
    map.shards.map(async ({ id, url }) => {
      const pool = placement.shards[id]!;
      const [{ rows }, owned] = await Promise.all([pool.query<ShardStatusRow>(shardStatus), pool.query<{ slot: number }>(ownedSlots)]);
      const row = rows[0]!;
      return {
        id,
        address: redactUrl(url),
        slots: slotsOf.get(id)?.length ?? 0,
        ownedSlots: row.owned,
        frozenSlots: row.frozen,
        incomingSlots: owned.rows.filter((r) => map.shardOfSlot(r.slot) !== id).length,
        rows: counted?.get(id) ?? Number(row.rows),
        versions: Number(row.versions),
        bytes: Number(row.bytes),
      };
    }),
  );
  const slotsMoving = shards.reduce((n, s) => n + s.frozenSlots + s.incomingSlots, 0);
  // A shard migrated before the journal existed has none: no move to it.
  const open = (await Promise.all(map.shards.map(({ id }) => readOpenMoves(placement.shards[id]!).catch(() => [])))).flat();
  const released = open.filter((m) => m.phase === 'released');
  const removed = new Map<number, bigint>();
  for (const move of released.filter((m) => !map.shards.some((s) => s.id === m.from))) {
    removed.set(move.from, [removed.get(move.from) ?? 0n, move.switchTs ?? 0n].reduce((a, b) => (a > b ? a : b)));
  }
  return {
    clusterId: map.clusterId || undefined,
    mapVersion: map.version,
    slotCount: map.slots.length,
    shards,
    slotsMoving,
    movesInFlight: open.filter((m) => m.phase !== 'released').map((m) => ({ from: m.from, to: m.to, slots: m.slots.length, phase: m.phase, rowsCopied: m.rowsCopied })),
    slotsAwaitingDrop: released.filter((m) => map.shards.some((s) => s.id === m.from)).reduce((n, m) => n + m.slots.length, 0),
    removedShards: [...removed].map(([id, keepRunningUntil]) => ({ id, keepRunningUntil })),
  };
}

/**
 * Runs `work` on an engine of the cluster given only its oracle (and,
 * before the oracle keeps its map, its shards), for the `percolator shards`
 * commands: no schema, no GC.
 */
export async function withClusterEngine<T>(oracleAddresses: string[], shards: readonly string[] | undefined, work: (engine: TransactionEngine, oracle: OracleClient) => Promise<T>): Promise<T> {
  const oracle = createOracleClient({ addresses: oracleAddresses });
  try {
    const cluster = await resolveClusterPlacement(shards, undefined, oracle, [], 5_000);
    const engine = createTransactionEngine({ shards: cluster.shards, placement: cluster.placement, timestampSource: oracle, registry: new Registry(), gc: false });
    try {
      return await work(engine, oracle);
    } finally {
      await engine.close();
    }
  } finally {
    await oracle.close();
  }
}

/** The status of a cluster given only its oracle: `percolator shards status`. */
export function readClusterStatus(oracleAddresses: string[], shards: readonly string[] | undefined, options: ShardStatusOptions = {}): Promise<ShardStatus> {
  return withClusterEngine(oracleAddresses, shards, (engine) => readShardStatus(engine.placement, options));
}
