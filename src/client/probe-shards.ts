import pg from 'pg';
import { ShardUnavailableError } from '../errors.js';
import { redactUrl } from '../redact.js';
import { checkShardIdentities, readShardIdentity, type PlacementConfig, type ShardIdentity } from '../shard/shard-identity.js';

/**
 * @internal Connects once to every shard (in parallel) so that a wrong or
 * unreachable URL fails at percolator() with ShardUnavailableError naming
 * the shard, not at the first transaction; and reads what each shard
 * records about its place in the cluster, refusing (SchemaError) a list or
 * shard keys that disagree with it (src/schema/shard-identity.ts).
 */
export async function probeShards(urls: readonly string[], timeoutMs: number, placement: PlacementConfig): Promise<void> {
  const names = placement.tables.map((t) => t.name);
  const results = await Promise.allSettled(urls.map((url) => probe(url, timeoutMs, names)));
  const identities: (ShardIdentity | undefined)[] = [];
  for (const [i, result] of results.entries()) {
    if (result.status === 'rejected') throw new ShardUnavailableError(`#${i} (${redactUrl(urls[i]!)})`, { cause: result.reason });
    identities.push(result.value);
  }
  checkShardIdentities(identities, urls.map((url, i) => `#${i} (${redactUrl(url)})`), placement);
}

async function probe(url: string, timeoutMs: number, tableNames: readonly string[]): Promise<ShardIdentity | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {}); // a dropped probe connection must not crash the process
  try {
    await client.connect();
    return await readShardIdentity((text, values) => client.query(text, [...values]), tableNames);
  } finally {
    await client.end().catch(() => {});
  }
}
