import { eq } from 'drizzle-orm';
import { index, integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percolator, SchemaError, SchemaVersionError } from '../../src/index.js';
import type { Database } from '../../src/client/database.js';
import { describeTable } from '../../src/schema/table-meta.js';
import type { TimestampSource } from '../../src/oracle/timestamp-source.js';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import { checkIndexes } from '../support/index-checker.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

let cluster: TestCluster;
let tso: TimestampSource;
const open: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  cluster = await startTestCluster({ shards: 3 });
  tso = await cluster.createTimestampSource();
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await tso?.close();
  await cluster?.destroy();
});

async function connect<S extends Record<string, unknown>>(schema: S): Promise<Database<S>> {
  const db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema, maxRetries: 50 });
  open.push(db);
  return db;
}

function checker(meta: ReturnType<typeof describeTable>): TransactionEngine {
  const engine = createTransactionEngine({ shards: cluster.shardUrls, timestampSource: tso, gc: false });
  engine.register([meta]);
  open.push(engine);
  return engine;
}

/** Runs `write` in a loop until `stop`, counting commits and the errors it is told to expect. */
async function writer(write: (n: number) => Promise<unknown>, stop: () => boolean, expected: (error: unknown) => boolean): Promise<{ committed: number; refused: unknown[] }> {
  let committed = 0;
  const refused: unknown[] = [];
  for (let n = 0; !stop(); n++) {
    try {
      await write(n);
      committed++;
    } catch (error) {
      if (!expected(error)) throw error;
      refused.push(error);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  return { committed, refused };
}

describe('creating an index on a table with rows', () => {
  it('migrate() builds it online while writers keep writing; a writer without it is fenced; reads use it once complete', async () => {
    const v1 = pgTable('people', { id: integer().primaryKey(), name: text().notNull(), city: text().notNull() });
    const v2 = pgTable('people', { id: integer().primaryKey(), name: text().notNull(), city: text().notNull() }, (t) => [
      index('people_city_idx').on(t.city),
      uniqueIndex('people_name_idx').on(t.name),
    ]);
    const old = await connect({ people: v1 });
    await old.migrate();
    await old.insert(v1).values(Array.from({ length: 1200 }, (_, i) => ({ id: i, name: `n${i}`, city: `c${i % 7}` })));
    const upgraded = await connect({ people: v2 });

    let stopped = false;
    // The old client writes until the index's fence refuses it; the upgraded one keeps going
    // (before the index's storage exists its writes fail with SchemaError: run migrate).
    const oldWriter = writer(
      (n) => old.update(v1).set({ city: `o${n % 5}` }).where(eq(v1.id, n % 1200)),
      () => stopped,
      (e) => e instanceof SchemaVersionError,
    );
    const newWriter = writer(
      async (n) => {
        await upgraded.update(v2).set({ city: `u${n % 5}` }).where(eq(v2.id, (n * 7) % 1200));
        await upgraded.insert(v2).values({ id: 10_000 + n, name: `new${n}`, city: `u${n % 5}` });
      },
      () => stopped,
      (e) => e instanceof SchemaError,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const beforeBuild = await upgraded.currentTimestamp();
    await upgraded.migrate();
    await new Promise((resolve) => setTimeout(resolve, 500));
    stopped = true;
    const [o, u] = await Promise.all([oldWriter, newWriter]);
    expect(o.refused.length).toBeGreaterThan(0);
    expect(u.committed).toBeGreaterThan(0);

    const v2Meta = describeTable(v2);
    const check = await checkIndexes(checker(v2Meta), v2Meta);
    expect(check.problems).toEqual([]);
    expect(check.rows).toBeGreaterThanOrEqual(1200);
    const byName = await upgraded.select().from(v2).where(eq(v2.name, 'n42'));
    expect(byName.map((r) => r.id)).toEqual([42]);
    // A snapshot older than the build does not see its entries: it does not read through the index.
    expect((await upgraded.asOf(beforeBuild).select().from(v2).where(eq(v2.name, 'n42'))).map((r) => r.id)).toEqual([42]);
    const inCity = await upgraded.select().from(v2).where(eq(v2.city, 'c3'));
    const scanned = (await upgraded.select().from(v2)).filter((r) => r.city === 'c3');
    expect(inCity.map((r) => r.id).sort((a, b) => a - b)).toEqual(scanned.map((r) => r.id).sort((a, b) => a - b));
  });

  it('a unique index over duplicate values is not built (SchemaError), stays unused, and is built once they are gone', async () => {
    const v1 = pgTable('tags', { id: integer().primaryKey(), label: text().notNull() });
    const v2 = pgTable('tags', { id: integer().primaryKey(), label: text().notNull() }, (t) => [uniqueIndex('tags_label_idx').on(t.label)]);
    const old = await connect({ tags: v1 });
    await old.migrate();
    await old.insert(v1).values([{ id: 1, label: 'a' }, { id: 2, label: 'b' }, { id: 3, label: 'a' }]);
    const upgraded = await connect({ tags: v2 });
    await expect(upgraded.migrate()).rejects.toThrow(/cannot build unique index tags_label_idx/);
    // Not used by reads (a scan still finds both rows), yet maintained by writers.
    expect((await upgraded.select().from(v2).where(eq(v2.label, 'a'))).map((r) => r.id).sort()).toEqual([1, 3]);
    await upgraded.delete(v2).where(eq(v2.id, 3));
    await upgraded.migrate();
    expect((await upgraded.select().from(v2).where(eq(v2.label, 'a'))).map((r) => r.id)).toEqual([1]);
    const meta = describeTable(v2);
    expect((await checkIndexes(checker(meta), meta)).problems).toEqual([]);
  });
});
