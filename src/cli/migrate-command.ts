import { PercolatorError } from '../errors.js';
import { redactText } from '../redact.js';
import { parseCommandArgs } from '../command-line/parse-command-args.js';
import { splitShardList } from '../shard/shard-address.js';
import { loadSchemaModule } from './schema-module.js';

export const help = `usage: percolator migrate --schema <module> --oracle <host:port,...> [--shards <url,...>] [--drop-tables]

Creates or upgrades the MVCC storage of every table of a schema module on
every shard (what db.migrate() does), for deploy scripts: run it before
rolling out code with a new schema. Online: columns are added and dropped,
indexes built and dropped while other clients run; clients still declaring
the old schema can read but not write a changed table. Idempotent.

options:
  --schema <module>  an ES module (.js/.mjs; compile TypeScript first) whose
                     exports are the drizzle tables (pgTable); other exports
                     (relations, enums) are ignored; an export named
                     \`shardKeys\` is passed on as percolator()'s option
  --shards <urls>    the shards' Postgres URLs, comma-separated (or
                     PERCOLATOR_SHARDS): required to create a cluster, whose
                     shards are numbered in this order; once the oracle keeps
                     the cluster's placement map, optional (the map names the
                     shards). A multi-host URL (a shard with standbys) keeps
                     its own commas
  --oracle <addrs>   the oracle's host:port, comma-separated (or PERCOLATOR_ORACLE)
  --drop-tables      also drop the tables stored on the shards that the
                     schema module does not declare (and their data)
  -h, --help         this help`;

export async function run(argv: string[]): Promise<number> {
  const hint = 'Run `percolator migrate --help` for the options.';
  const options = { schema: { type: 'string' }, shards: { type: 'string' }, oracle: { type: 'string' }, 'drop-tables': { type: 'boolean' } } as const;
  const parsed = parseCommandArgs('migrate', { args: argv, strict: true, allowPositionals: false, options }, hint);
  if (!parsed) return 2;
  const { schema: schemaPath } = parsed.values;
  // A multi-host URL (a shard with standbys) keeps its own commas.
  const shards = splitShardList(parsed.values.shards ?? process.env.PERCOLATOR_SHARDS ?? '');
  const oracle = list(parsed.values.oracle ?? process.env.PERCOLATOR_ORACLE);
  if (!schemaPath || oracle.length === 0) {
    console.error(`percolator migrate: --schema and --oracle (or PERCOLATOR_ORACLE) are required\n${hint}`);
    return 2;
  }
  const loaded = await loadSchemaModule(schemaPath);
  if ('error' in loaded) {
    console.error(`percolator migrate: ${loaded.error}`);
    return 2;
  }
  const { schema, shardKeys } = loaded;
  const { percolator } = await import('../index.js');
  let shardCount = 0;
  try {
    const db = await percolator({ shards: shards.length > 0 ? shards : undefined, oracle, schema, shardKeys: shardKeys as never });
    try {
      await db.migrate({ dropTables: parsed.values['drop-tables'] === true });
      shardCount = db.shardCount;
    } finally {
      await db.close();
    }
  } catch (error) {
    if (!(error instanceof PercolatorError)) throw error;
    console.error(`percolator migrate: ${redactText(error.message)} (${error.code})`);
    return 1;
  }
  console.log(`migrated ${Object.keys(schema).length} table(s) (${Object.keys(schema).join(', ')}) on ${shardCount} shard(s)`);
  return 0;
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
