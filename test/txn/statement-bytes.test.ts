import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeTable } from '../../src/schema/table-meta.js';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { useEngines } from '../support/engine-fixture.js';
import { startMessageSizeProxy, type MessageSizeProxy } from '../support/message-size-proxy.js';

const blobs = pgTable('blobs', { id: integer('id').primaryKey(), payload: text('payload').notNull() });
const blobsMeta = describeTable(blobs);
const MiB = 1024 * 1024;
const ROWS = 200;

describe('a transaction of 200 rows of 1 MiB', () => {
  const fixture = useEngines({ shards: 1, tables: [blobsMeta], seed: false, defaults: { gc: false } });
  let proxy: MessageSizeProxy;
  let engine: TransactionEngine;

  beforeAll(async () => {
    proxy = await startMessageSizeProxy(fixture.cluster.shardUrls[0]!);
    engine = fixture.engine({ shards: [proxy.url] });
  });
  afterAll(async () => {
    // Before the fixture's teardown: the engine goes, then the proxy it talks through.
    await engine?.close();
    await proxy?.close();
  });

  it('commits in statements of a few MiB each, not one of 200 MiB', async () => {
    const payload = (id: number) => String.fromCharCode(97 + (id % 26)).repeat(MiB - 16);
    const tx = await engine.begin();
    tx.put(blobsMeta, Array.from({ length: ROWS }, (_, id) => ({ id, payload: payload(id) })));
    await expect(tx.commit()).resolves.toMatchObject({ commitTs: expect.any(BigInt) });
    const largest = Math.max(...proxy.largest.values());
    expect(largest).toBeGreaterThan(MiB); // the rows did go through the proxy
    expect(largest).toBeLessThanOrEqual(8 * MiB);

    const read = await engine.begin();
    const rows = await read.select(blobsMeta);
    expect(rows).toHaveLength(ROWS);
    for (const row of rows) expect(row.payload).toBe(payload(row.id as number));
  });
});
