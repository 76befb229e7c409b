import pg from 'pg';
import { ShardUnavailableError } from '../errors.js';
import { redactUrl } from '../redact.js';

/** @internal A shard URL with its password hidden, for messages and logs. */
export { redactUrl };

/**
 * @internal Connects once to every shard (in parallel) so that a wrong or
 * unreachable URL fails at percolator() with ShardUnavailableError naming
 * the shard, not at the first transaction.
 */
export async function probeShards(urls: readonly string[], timeoutMs: number): Promise<void> {
  const results = await Promise.allSettled(urls.map((url) => probe(url, timeoutMs)));
  for (const [i, result] of results.entries()) {
    if (result.status === 'rejected') throw new ShardUnavailableError(`#${i} (${redactUrl(urls[i]!)})`, { cause: result.reason });
  }
}

async function probe(url: string, timeoutMs: number): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {}); // a dropped probe connection must not crash the process
  try {
    await client.connect();
    await client.query('select 1');
  } finally {
    await client.end().catch(() => {});
  }
}
