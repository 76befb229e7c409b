import { PercolatorError } from '../errors.js';
import { redactText } from '../redact.js';
import { parseCommandArgs } from '../command-line/parse-command-args.js';
import { parseDurationFlagMs } from '../command-line/duration.js';
import { splitShardList } from '../shard/shard-address.js';
import type { ShardStatus } from '../client/shard-status.js';
import type { RebalanceOptions, RebalanceResult } from '../client/shard-membership.js';
import type { RebalanceProgress } from '../txn/slot-moves.js';
import { loadSchemaModule } from './schema-module.js';

export const help = `usage: percolator shards <action> --oracle <host:port,...> [options]

actions:
  status              the placement map's version and, per shard, the slots
                      the map assigns to it, the slots it records as owned
                      (frozen: moving away; incoming: moving in), its live
                      rows (estimate; --count-rows to count), stored
                      versions (estimate) and bytes
  add <url>           add a Postgres server as a new shard: migrates it with
                      the tables of --schema (which must declare every table
                      the cluster stores), then adds it to the map with no
                      slots; --rebalance then moves slots to it. An
                      unreachable server changes nothing
  remove <url|id>     move every slot of a shard to the others, then drop it
                      from the map. Keep the server running until the GC
                      safe point passes the timestamp printed at the end
  rebalance           move slots (and their rows) so that every shard holds
                      as many slots and rows within 10%, moving the fewest

options:
  --oracle <addrs>    the oracle's host:port, comma-separated (or PERCOLATOR_ORACLE)
  --shards <urls>     status only, while the oracle keeps no map of the
                      cluster yet (or PERCOLATOR_SHARDS): the shards' URLs
  --schema <module>   add: the ES module of the cluster's drizzle tables (as
                      for \`percolator migrate\`)
  --rebalance         add: rebalance once the shard is in the map
  --slots-only        balance slot counts only, without counting rows
  --batch-slots <n>   slots per move (one short write freeze each; default 64)
  --max-rows-per-second <n>
                      throttle: each move copies at most n rows per second,
                      so moving R rows takes at least R/n seconds and the
                      copy's load on the shards is bounded by n rows/s
  --pause <duration>  throttle: wait this long between two batches (e.g.
                      200ms), so foreground work catches up after a freeze
  --count-rows        status: count live rows exactly (scans every table)
  --json              status: one JSON object instead of a table
  -h, --help          this help

While slots move, progress is shown on a terminal (stderr).`;

const ACTIONS = ['status', 'add', 'remove', 'rebalance'];

export async function run(argv: string[]): Promise<number> {
  const hint = 'Run `percolator shards --help` for the options.';
  const options = {
    oracle: { type: 'string' },
    shards: { type: 'string' },
    json: { type: 'boolean' },
    schema: { type: 'string' },
    rebalance: { type: 'boolean' },
    'slots-only': { type: 'boolean' },
    'batch-slots': { type: 'string' },
    'max-rows-per-second': { type: 'string' },
    pause: { type: 'string' },
    'count-rows': { type: 'boolean' },
  } as const;
  const parsed = parseCommandArgs('shards', { args: argv, strict: true, allowPositionals: true, options }, hint);
  if (!parsed) return 2;
  const [action, ...args] = parsed.positionals;
  const arity = action === 'add' || action === 'remove' ? 1 : 0;
  if (action === undefined || !ACTIONS.includes(action) || args.length !== arity) {
    const what = action === undefined ? 'an action is required' : !ACTIONS.includes(action) ? `unknown action '${action}'` : arity === 1 ? `${action} takes one shard URL` : `${action} takes no argument`;
    console.error(`percolator shards: ${what} (actions: ${ACTIONS.join(', ')})\n${hint}`);
    return 2;
  }
  const values = parsed.values;
  const oracle = (values.oracle ?? process.env.PERCOLATOR_ORACLE ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (oracle.length === 0) {
    console.error(`percolator shards: --oracle (or PERCOLATOR_ORACLE) is required\n${hint}`);
    return 2;
  }
  try {
    const rebalanceOptions: RebalanceOptions = {
      byRows: values['slots-only'] !== true,
      batchSlots: values['batch-slots'] === undefined ? undefined : Number(values['batch-slots']),
      throttle: {
        maxRowsPerSecond: values['max-rows-per-second'] === undefined ? undefined : Number(values['max-rows-per-second']),
        pauseMs: values.pause === undefined ? undefined : parseDurationFlagMs('--pause', values.pause),
      },
      onProgress: progressLine(),
    };
    if (action === 'status') return await status(oracle, splitShardList(values.shards ?? process.env.PERCOLATOR_SHARDS ?? ''), values.json === true, values['count-rows'] === true);
    if (action === 'add') {
      if (!values.schema) {
        console.error(`percolator shards add: --schema is required (the new shard gets the storage of its tables)\n${hint}`);
        return 2;
      }
      const loaded = await loadSchemaModule(values.schema);
      if ('error' in loaded) {
        console.error(`percolator shards add: ${loaded.error}`);
        return 2;
      }
      const { percolator } = await import('../index.js');
      const db = await percolator({ oracle, schema: loaded.schema, shardKeys: loaded.shardKeys as never });
      try {
        const added = await db.addShard(args[0]!, { rebalance: values.rebalance === true ? rebalanceOptions : false });
        console.log(added.added ? `added shard ${added.id} (${added.address})` : `${added.address} is already shard ${added.id}`);
        if (added.rebalance) printMoved(added.rebalance);
      } finally {
        await db.close();
      }
      return 0;
    }
    const { withClusterEngine } = await import('../client/shard-status.js');
    const { asOnlyPlacementChange, rebalance, removeShard } = await import('../client/shard-membership.js');
    const { silentLogger } = await import('../logger.js');
    return await withClusterEngine(oracle, undefined, async (engine, client) => {
      const deps = { moves: engine.slotMoves, tables: [], timestamp: () => client.getTimestamp(), logger: silentLogger, connectTimeoutMs: 5_000 };
      if (action === 'rebalance') {
        printMoved(await asOnlyPlacementChange(deps, () => rebalance(deps, rebalanceOptions)));
        return 0;
      }
      const removed = await asOnlyPlacementChange(deps, () => removeShard(deps, args[0]!, rebalanceOptions));
      printMoved(removed.drained);
      console.log(`removed shard ${removed.id} (${removed.address}) from the placement map`);
      console.log(`keep it running until the GC safe point passes ${removed.keepRunningUntil} (readers that began before may still read it; the GC lifetime from now at most)`);
      return 0;
    });
  } catch (error) {
    if (!(error instanceof PercolatorError)) throw error;
    console.error(`percolator shards: ${redactText(error.message)} (${error.code})`);
    return 1;
  }
}

async function status(oracle: string[], shardList: string[], json: boolean, countRows: boolean): Promise<number> {
  const { readClusterStatus } = await import('../client/shard-status.js');
  const status: ShardStatus = await readClusterStatus(oracle, shardList.length > 0 ? shardList : undefined, { countRows });
  if (json) {
    console.log(JSON.stringify(status, (_, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)));
    return 0;
  }
  console.log(`cluster ${status.clusterId ?? '(no map yet)'}, placement map version ${status.mapVersion}, ${status.slotCount} slots, ${status.slotsMoving} moving`);
  const heads = ['id', 'slots', 'owned', 'frozen', 'incoming', 'rows', 'versions', 'bytes'];
  console.log(heads.map((h) => h.padStart(10)).join('') + ' address');
  for (const s of status.shards) {
    console.log([s.id, s.slots, s.ownedSlots, s.frozenSlots, s.incomingSlots, s.rows, s.versions, s.bytes].map((v) => String(v).padStart(10)).join('') + ` ${s.address}`);
  }
  for (const m of status.movesInFlight) console.log(`move in flight: ${m.slots} slot(s) ${m.from} -> ${m.to}, ${m.phase}, ${m.rowsCopied} rows copied`);
  if (status.slotsAwaitingDrop > 0) console.log(`${status.slotsAwaitingDrop} moved slot(s) wait for the GC safe point before their old copy is deleted`);
  for (const r of status.removedShards) console.log(`removed shard ${r.id}: keep its server running until the GC safe point passes ${r.keepRunningUntil}`);
  return 0;
}

function printMoved(result: RebalanceResult): void {
  console.log(`moved ${result.slotsMoved} slot(s) in ${result.moves.length} batch(es); placement map version ${result.mapVersion}`);
}

/** One line redrawn on a terminal while slots move; nothing when stderr is not a terminal. */
function progressLine(): ((progress: RebalanceProgress) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  const started = Date.now();
  return (p) => {
    const current = p.current ? `, moving ${p.current.slots.length} slot(s) ${p.current.from} -> ${p.current.to}` : '';
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stderr.write(`\r\x1b[Kbatch ${p.done}/${p.batches}, ${p.slotsMoved}/${p.slots} slots, ${p.rowsCopied} rows copied, ${seconds}s${current}`);
    if (p.done === p.batches && !p.current) process.stderr.write('\n');
  };
}
