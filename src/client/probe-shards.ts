import { ShardUnavailableError } from '../errors.js';
import { redactUrl } from '../redact.js';
import { parseShardAddress } from '../shard/shard-address.js';
import { connectToShard } from '../shard/shard-primary.js';
import { readShardIdentity, type ShardIdentity } from '../shard/shard-identity.js';

/** Names of shards in errors: their place in the list and address, never a password. */
export const shardNames = (urls: readonly string[]): string[] => urls.map((url, i) => `#${i} (${redactUrl(url)})`);

/**
 * @internal Connects once to every shard (in parallel) so that a wrong or
 * unreachable URL fails at percolator() with ShardUnavailableError naming
 * the shard, not at the first transaction; and reads what each shard
 * records about its place in the cluster (checked by the caller against the
 * oracle's placement map or the list: cluster-placement.ts). A shard with
 * standbys (a multi-host URL) is read at its primary; a promoted standby is
 * a physical copy of the primary, so it records the same identity.
 */
export async function readIdentities(urls: readonly string[], timeoutMs: number, names: readonly string[]): Promise<(ShardIdentity | undefined)[]> {
  // A malformed host list or target_session_attrs is the caller's error (InvalidInputError), found before dialling anything.
  urls.forEach((url) => parseShardAddress(url));
  const results = await Promise.allSettled(urls.map((url) => probe(url, timeoutMs, names)));
  const identities: (ShardIdentity | undefined)[] = [];
  for (const [i, result] of results.entries()) {
    if (result.status === 'rejected') throw new ShardUnavailableError(`#${i} (${redactUrl(urls[i]!)})`, { cause: result.reason });
    identities.push(result.value);
  }
  return identities;
}

async function probe(url: string, timeoutMs: number, tableNames: readonly string[]): Promise<ShardIdentity | undefined> {
  // openClient's listener keeps a dropped probe connection from crashing the process.
  const client = await connectToShard(url, { connectionTimeoutMillis: timeoutMs }, redactUrl(url));
  try {
    return await readShardIdentity((text, values) => client.query(text, [...values]), tableNames);
  } finally {
    await client.end().catch(() => {});
  }
}
