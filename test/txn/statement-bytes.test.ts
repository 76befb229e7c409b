import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TimestampSource } from '../../src/oracle/timestamp-source.js';
import { describeTable } from '../../src/schema/table-meta.js';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import { startMessageSizeProxy, type MessageSizeProxy } from '../support/message-size-proxy.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

const blobs = pgTable('blobs', { id: integer('id').primaryKey(), payload: text('payload').notNull() });
const blobsMeta = describeTable(blobs);
const MiB = 1024 * 1024;
const ROWS = 200;

describe('a transaction of 200 rows of 1 MiB', () => {
  let cluster: TestCluster;
  let tso: TimestampSource;
  let proxy: MessageSizeProxy;
  let engine: TransactionEngine;

  beforeAll(async () => {
    cluster = await startTestCluster({ shards: 1 });
    tso = await cluster.createTimestampSource();
    proxy = await startMessageSizeProxy(cluster.shardUrls[0]!);
    engine = createTransactionEngine({ shards: [proxy.url], timestampSource: tso, registry: new Registry(), gc: false });
    await engine.migrate([blobsMeta]);
  });
  afterAll(async () => {
    await engine?.close();
    await proxy?.close();
    await tso?.close();
    await cluster?.destroy();
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
