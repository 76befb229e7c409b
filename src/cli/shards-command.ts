import { PercolatorError } from '../errors.js';
import { redactText } from '../redact.js';
import { parseCommandArgs } from '../command-line/parse-command-args.js';
import { splitShardList } from '../shard/shard-address.js';

export const help = `usage: percolator shards status --oracle <host:port,...> [--shards <url,...>] [--json]

Shows the cluster as the oracle's placement map and the shards see it:
the map's version, and per shard the slots the map assigns to it, the
slots it records as owned (frozen ones: a move under way or interrupted),
its stored versions (Postgres's estimate) and bytes.

options:
  --oracle <addrs>   the oracle's host:port, comma-separated (or PERCOLATOR_ORACLE)
  --shards <urls>    only while the oracle keeps no map of the cluster yet
                     (or PERCOLATOR_SHARDS): the shards' Postgres URLs
  --json             one JSON object instead of a table
  -h, --help         this help`;

export async function run(argv: string[]): Promise<number> {
  const hint = 'Run `percolator shards --help` for the options.';
  const options = { oracle: { type: 'string' }, shards: { type: 'string' }, json: { type: 'boolean' } } as const;
  const parsed = parseCommandArgs('shards', { args: argv, strict: true, allowPositionals: true, options }, hint);
  if (!parsed) return 2;
  const [action, ...extra] = parsed.positionals;
  if (action !== 'status' || extra.length > 0) {
    console.error(`percolator shards: ${action === undefined ? 'an action is required' : `unknown action '${[action, ...extra].join(' ')}'`} (actions: status)\n${hint}`);
    return 2;
  }
  const oracle = (parsed.values.oracle ?? process.env.PERCOLATOR_ORACLE ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const shardList = splitShardList(parsed.values.shards ?? process.env.PERCOLATOR_SHARDS ?? '');
  if (oracle.length === 0) {
    console.error(`percolator shards: --oracle (or PERCOLATOR_ORACLE) is required\n${hint}`);
    return 2;
  }
  const { readClusterStatus } = await import('../client/shard-status.js');
  try {
    const status = await readClusterStatus(oracle, shardList.length > 0 ? shardList : undefined);
    if (parsed.values.json) {
      console.log(JSON.stringify({ ...status, mapVersion: status.mapVersion.toString() }));
      return 0;
    }
    console.log(`cluster ${status.clusterId ?? '(no map yet)'}, placement map version ${status.mapVersion}, ${status.slotCount} slots`);
    console.log(['id', 'slots', 'owned', 'frozen', 'versions', 'bytes', 'address'].map((h, i) => (i < 6 ? h.padStart(10) : ` ${h}`)).join(''));
    for (const s of status.shards) {
      console.log([s.id, s.slots, s.ownedSlots, s.frozenSlots, s.versions, s.bytes].map((v) => String(v).padStart(10)).join('') + ` ${s.address}`);
    }
    return 0;
  } catch (error) {
    if (!(error instanceof PercolatorError)) throw error;
    console.error(`percolator shards: ${redactText(error.message)} (${error.code})`);
    return 1;
  }
}
