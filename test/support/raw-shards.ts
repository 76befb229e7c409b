import pg from 'pg';

/** Rows left in a storage table on every shard, read with plain SQL (bypassing the engine). */
export async function countOnShards(urls: readonly string[], sql: string): Promise<number[]> {
  return Promise.all(
    urls.map(async (url) => {
      const client = new pg.Client(url);
      await client.connect();
      try {
        const { rows } = await client.query<{ n: string }>(sql);
        return Number(rows[0]!.n);
      } finally {
        await client.end();
      }
    }),
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
