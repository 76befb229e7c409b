import { withPlacementChangeLock } from '../txn/placement-change-lock.js';
import { InvalidInputError, PlacementChangedError, SchemaError } from '../errors.js';
import type { Logger } from '../logger.js';
import { redactUrl } from '../redact.js';
import type { TableMeta } from '../schema/table-meta.js';
import { migrateShards } from '../shard/migrate.js';
import { PlacementMap, type PlacementShard } from '../shard/placement-map.js';
import { ShardPool } from '../shard/shard-pool.js';
import { liveRowCount } from '../shard/shard-status-statements.js';
import { readCatalogue } from '../shard/table-catalogue.js';
import type { Timestamp } from '../timestamp.js';
import { placementMapOf, storedPlacementOf, type Placement } from '../txn/placement.js';
import { planRebalance, type SlotMove } from '../txn/rebalance-plan.js';
import { checkThrottle, runMoves, type RebalanceProgress, type MoveThrottle } from '../txn/slot-moves.js';
import { finishInterruptedMoves, type SlotMoveContext } from '../txn/slot-move.js';
import { handOverReleasedMoves } from '../txn/slot-move-journal.js';
import { readIdentities } from './probe-shards.js';

/** What adding, removing and rebalancing need of a client. */
export interface MembershipDeps {
  /** The engine's placement and what moving slots needs. */
  readonly moves: SlotMoveContext;
  /** The storage tables a new shard is migrated with (every table of the cluster's catalogue must be among them). */
  readonly tables: readonly TableMeta[];
  readonly timestamp: () => Promise<Timestamp>;
  readonly logger: Logger;
  readonly connectTimeoutMs: number;
}

/** Options of db.rebalance() (and of the rebalance that addShard and removeShard run). */
export interface RebalanceOptions {
  /** Balance rows as well as slots (counts each shard's live rows first: a scan). Default true. */
  readonly byRows?: boolean | undefined;
  /** Most slots per batch (one switch each). Default 64. */
  readonly batchSlots?: number | undefined;
  readonly throttle?: MoveThrottle | undefined;
  readonly onProgress?: ((progress: RebalanceProgress) => void) | undefined;
}

export interface RebalanceResult {
  readonly moves: readonly SlotMove[];
  readonly slotsMoved: number;
  /** The map version once done. */
  readonly mapVersion: bigint;
}

export interface AddShardResult {
  /** The new shard's stable id. */
  readonly id: number;
  readonly address: string;
  /** False when the URL was already a shard of the map (nothing was changed). */
  readonly added: boolean;
  readonly rebalance?: RebalanceResult | undefined;
}

export interface RemoveShardResult {
  readonly id: number;
  readonly address: string;
  readonly drained: RebalanceResult;
  /**
   * An oracle timestamp taken after its last slot left it: the removed
   * server must keep running until the GC safe point of every remaining
   * shard has passed it (readers that started before may still read it).
   */
  readonly keepRunningUntil: Timestamp;
}

/**
 * Runs `change` as the cluster's only change of placement
 * (src/txn/placement-change-lock.ts), after finishing any move an
 * interrupted change left unfinished.
 */
export function asOnlyPlacementChange<T>(deps: MembershipDeps, change: () => Promise<T>): Promise<T> {
  return withPlacementChangeLock(mappedPlacement(deps.moves.placement), async () => {
    const finished = await finishInterruptedMoves(deps.moves);
    if (finished > 0) deps.logger.info({ moves: finished }, 'finished moves an interrupted change of placement left');
    return change();
  });
}

/** How many times a map change lost to a concurrent one is tried again. */
const MAP_CHANGE_ATTEMPTS = 5;

/**
 * Adds a server to the cluster: migrates it (the storage of every table the
 * cluster catalogues; its identity records the cluster id and a new stable
 * shard id, and no slot), then adds it to the oracle's map (compare-and-set,
 * no slot assigned), so every client sees it. An unreachable server fails
 * with ShardUnavailableError and a server of another cluster with
 * SchemaError, before anything is written anywhere. Run again after a
 * failure: a server already migrated for this cluster keeps its id.
 */
export async function addShard(deps: MembershipDeps, url: string, options: { rebalance?: boolean | RebalanceOptions | undefined } = {}): Promise<AddShardResult> {
  const placement = mappedPlacement(deps.moves.placement);
  if (typeof options.rebalance === 'object') checkThrottle(options.rebalance.throttle);
  await placement.refresh();
  const listed = placement.map.shards.find((s) => s.url === url);
  if (listed) return { id: listed.id, address: redactUrl(url), added: false, rebalance: await rebalanceIf(deps, options.rebalance) };
  const [identity] = await readIdentities([url], deps.connectTimeoutMs, deps.tables.map((t) => t.name));
  const map = placement.map;
  if (identity && identity.clusterId !== map.clusterId) {
    throw new SchemaError(`${redactUrl(url)} belongs to cluster ${identity.clusterId}, not ${map.clusterId}: add an empty database, or one this cluster migrated`);
  }
  await checkCatalogued(placement, deps.tables);
  const id = identity && !map.shards.some((s) => s.id === identity.position) ? identity.position : newShardId(map);
  const pool = new ShardPool(id, url, deps.logger);
  try {
    const result = await migrateShards([...placement.live, pool], deps.tables, { mapped: true, withoutSlots: true });
    if (result.older.length > 0) {
      throw new SchemaError(`tables ${result.older.map((o) => o.table).join(', ')} are declared at an older schema version than the cluster stores: add the shard from a client with the current schema`);
    }
  } finally {
    await pool.close();
  }
  await changeMap(placement, (current) => {
    if (current.shards.some((s) => s.url === url)) return undefined;
    if (current.shards.some((s) => s.id === id)) throw new PlacementChangedError(redactUrl(url), `shard id ${id} was taken by another shard meanwhile; run the add again`);
    return new PlacementMap(current.clusterId, current.version + 1n, [...current.shards, { id, url }], current.slots);
  });
  deps.logger.info({ shard: id, address: redactUrl(url) }, 'shard added to the placement map');
  return { id, address: redactUrl(url), added: true, rebalance: await rebalanceIf(deps, options.rebalance) };
}

/**
 * Moves every slot of a shard to the others (balanced), then drops it from
 * the map. The server must be kept running until the GC safe point passes
 * `keepRunningUntil`: statements that began with an older map may still
 * read it. Interrupted, it leaves every slot with one owner; run it again.
 */
export async function removeShard(deps: MembershipDeps, url: string, options: RebalanceOptions = {}): Promise<RemoveShardResult> {
  const placement = mappedPlacement(deps.moves.placement);
  checkThrottle(options.throttle);
  await placement.refresh();
  const shard = findShard(placement.map, url);
  if (placement.map.shards.length === 1) throw new InvalidInputError(`shard ${shard.id} is the cluster's only shard: add another before removing it`);
  const drained = await rebalance(deps, { ...options, without: shard.id });
  const handedOver = await handOverReleasedMoves(placement.shards[shard.id]!, shard.id, (id) => (placement.map.shards.some((s) => s.id === id) ? placement.shards[id] : undefined));
  if (handedOver > 0) deps.logger.info({ shard: shard.id, moves: handedOver }, 'sources took over the records of released moves into the leaving shard');
  const keepRunningUntil = await deps.timestamp();
  await changeMap(placement, (current) => {
    if (!current.shards.some((s) => s.id === shard.id)) return undefined;
    if (current.slots.includes(shard.id)) throw new PlacementChangedError(redactUrl(url), `slots were moved to shard ${shard.id} meanwhile; run the removal again`);
    return new PlacementMap(current.clusterId, current.version + 1n, current.shards.filter((s) => s.id !== shard.id), current.slots);
  });
  deps.logger.info({ shard: shard.id, address: redactUrl(url), keepRunningUntil: keepRunningUntil.toString() }, 'shard removed from the placement map');
  return { id: shard.id, address: redactUrl(shard.url), drained, keepRunningUntil };
}

/**
 * Plans and runs the moves that balance slots (and rows) over the map's
 * shards, or over all but `without` (a drain). Planned again from the map
 * until nothing is left to move, so a concurrent change is taken into account.
 */
export async function rebalance(deps: MembershipDeps, options: RebalanceOptions & { without?: number } = {}): Promise<RebalanceResult> {
  const placement = mappedPlacement(deps.moves.placement);
  checkThrottle(options.throttle);
  const done: SlotMove[] = [];
  for (let round = 0; round < MAP_CHANGE_ATTEMPTS; round++) {
    await placement.refresh();
    const map = placement.map;
    const targets = map.shards.map((s) => s.id).filter((id) => id !== options.without);
    const rows = options.byRows === false ? undefined : { perShard: await rowsPerShard(placement) };
    const moves = planRebalance({ owners: map.slots, shards: targets, rows, batchSlots: options.batchSlots });
    if (moves.length === 0) break;
    deps.logger.info({ batches: moves.length, slots: moves.reduce((n, m) => n + m.slots.length, 0) }, 'moving slots');
    await runMoves(deps.moves, moves, { throttle: options.throttle, onProgress: options.onProgress });
    done.push(...moves);
    // Slot counts balance in one round; a second one only follows a concurrent change.
    if (options.byRows !== false && options.without === undefined) break;
  }
  return { moves: done, slotsMoved: done.reduce((n, m) => n + m.slots.length, 0), mapVersion: placement.map.version };
}

/** Live rows per shard id of the current map (exact: scans each shard's latest rows). */
export async function rowsPerShard(placement: Placement): Promise<Map<number, number>> {
  const counts = await Promise.all(
    placement.map.shards.map(async ({ id }) => {
      const pool = placement.shards[id]!;
      const tables = (await readCatalogue(pool)).filter((e) => e.indexOf === null).map((e) => e.name);
      const { rows } = await pool.query<{ rows: string }>(liveRowCount(tables));
      return [id, Number(rows[0]!.rows)] as const;
    }),
  );
  return new Map(counts);
}

async function rebalanceIf(deps: MembershipDeps, option: boolean | RebalanceOptions | undefined): Promise<RebalanceResult | undefined> {
  if (!option) return undefined;
  return rebalance(deps, option === true ? {} : option);
}

function mappedPlacement(placement: Placement): Placement {
  if (!placement.mapped || !placement.source) throw new InvalidInputError('shards are added, removed and rebalanced only in a cluster whose placement map the oracle keeps (migrate() it first)');
  return placement;
}

/** A shard of the map by its URL (as the map records it) or its id. */
function findShard(map: PlacementMap, urlOrId: string): PlacementShard {
  const shard = map.shards.find((s) => s.url === urlOrId || String(s.id) === urlOrId);
  if (!shard) throw new InvalidInputError(`${redactUrl(urlOrId)} is not a shard of cluster ${map.clusterId} (its shards: ${map.shards.map((s) => `${s.id} ${redactUrl(s.url)}`).join(', ')})`);
  return shard;
}

/** Above every id the map lists. */
function newShardId(map: PlacementMap): number {
  return map.shardIdLimit;
}

/** Every table the cluster catalogues must be declared: the new shard gets storage for all of them. */
async function checkCatalogued(placement: Placement, tables: readonly TableMeta[]): Promise<void> {
  const declared = new Set(tables.map((t) => t.name));
  const catalogued = await readCatalogue(placement.live[0]!);
  const missing = catalogued.map((e) => e.name).filter((name) => !declared.has(name));
  if (missing.length > 0) {
    throw new SchemaError(`the cluster stores tables this client does not declare (${missing.join(', ')}): add the shard from a client whose schema declares every table, so the new shard gets their storage`);
  }
}

/** Applies `change` to the current map by compare-and-set, reading the map again after a lost race; undefined: nothing to change. */
async function changeMap(placement: Placement, change: (current: PlacementMap) => PlacementMap | undefined): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await placement.refresh();
    const current = placement.map;
    const next = change(current);
    if (!next) return;
    const written = await placement.source!.writePlacement(storedPlacementOf(next), current.version);
    placement.adopt(placementMapOf(written.placement!, written.generation));
    if (written.applied) return;
    if (attempt >= MAP_CHANGE_ATTEMPTS) throw new PlacementChangedError('oracle', `the placement map of cluster ${current.clusterId} kept changing; run the command again`);
  }
}
