import { inArray, notInArray } from 'drizzle-orm';
import { integer, pgTable } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { Registry } from 'prom-client';
import type { PostgresCluster } from '../../src/harness/postgres-cluster.js';
import { percolator, type Database, type IsolationLevel, type Transaction } from '../../src/index.js';
import { describeTable } from '../../src/schema/table-meta.js';
import { shardOf } from '../../src/shard/shard-of.js';
import type { CommitHooks } from '../../src/txn/commit-hooks.js';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { ScriptedTransaction } from './scripted-transaction.js';

/** Hermitage's table: `test (id int primary key, value int)`. */
export const items = pgTable('hermitage_items', {
  id: integer('id').primaryKey(),
  value: integer('value').notNull(),
});
/** A table colocated with items (same shard key), one row per id: the join path's other side. */
export const tags = pgTable('hermitage_tags', {
  id: integer('id').primaryKey(),
});
const schema = { items, tags };
export type Tx = Transaction<typeof schema>;
export const itemsMeta = describeTable(items);

const SHARDS = 2;
type FreeIds = readonly [number, number, number, number, number, number];

export interface HermitageFixture {
  readonly db: Database<typeof schema>;
  /** Ids of the rows x (value 10) and y (value 20), stored on different shards. */
  readonly x: number;
  readonly y: number;
  /** Ids not in use at the start of a case, alternating between the shards (for inserts). */
  readonly free: FreeIds;
  /** Back to x = 10, y = 20 and no other row. */
  reset(): Promise<void>;
  /** Starts a scripted transaction (no retries: a schedule is played once). */
  begin(name: string, isolation: IsolationLevel): Promise<ScriptedTransaction<Tx>>;
  /** Rolls back every scripted transaction a failed test left open. */
  abandonOpenTransactions(): Promise<void>;
  /** Another client of the same shards and oracle, with its own defaults (e.g. `isolation`). */
  connect(options: { isolation: IsolationLevel }): Promise<Database<typeof schema>>;
  /** A second client straight on the engine, with commit-path hooks (to hold a transaction between two phases). */
  engineWithHooks(hooks: CommitHooks): Promise<{ engine: TransactionEngine; close(): Promise<void> }>;
  /** Committed values of x and y, read at a fresh snapshot. */
  committed(): Promise<{ x: number | undefined; y: number | undefined }>;
  close(): Promise<void>;
}

/** Two real Postgres shards, a real oracle process, one database client. */
export async function startHermitage(): Promise<HermitageFixture> {
  const cluster = await startTestCluster({ shards: SHARDS });
  try {
    const db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema });
    await db.migrate();
    await db.insert(tags).values(Array.from({ length: 200 }, (_, i) => ({ id: i + 1 })));
    return await buildFixture(cluster, db).catch(async (error: unknown) => {
      await db.close();
      throw error;
    });
  } catch (error) {
    await cluster.destroy();
    throw error;
  }
}

async function buildFixture(cluster: TestCluster, db: Database<typeof schema>): Promise<HermitageFixture> {
  const meta = itemsMeta;
  const placed = (shard: number) => (id: number) => shardOf(meta, { id }, SHARDS) === shard;
  const candidates = Array.from({ length: 200 }, (_, i) => i + 1);
  const x = candidates.find(placed(0))!;
  const y = candidates.find(placed(1))!;
  const onShard = (shard: number) => candidates.filter((id) => id !== x && id !== y && placed(shard)(id));
  const free = [0, 1, 2, 3, 4, 5].map((i) => onShard(i % 2)[Math.floor(i / 2)]!) as unknown as FreeIds;
  await assertStoredOn(cluster.shards, meta, db, { [x]: 0, [y]: 1 });

  const open = new Set<ScriptedTransaction<Tx>>();
  return {
    db,
    x,
    y,
    free,
    async reset() {
      await db.transaction(async (tx) => {
        await tx.delete(items).where(notInArray(items.id, [x, y]));
        const present = new Set((await tx.select().from(items).where(inArray(items.id, [x, y]))).map((r) => r.id));
        for (const [id, value] of [
          [x, 10],
          [y, 20],
        ] as const) {
          if (present.has(id)) await tx.update(items).set({ value }).where(inArray(items.id, [id]));
          else await tx.insert(items).values({ id, value });
        }
      });
    },
    async begin(name, isolation) {
      const scripted = await ScriptedTransaction.begin<Tx>(name, (fn) => db.transaction(fn, { isolation, maxRetries: 0 }));
      open.add(scripted);
      return scripted;
    },
    async abandonOpenTransactions() {
      await Promise.all([...open].map((t) => (t.ended ? undefined : t.rollback((tx) => tx.rollback()))));
      open.clear();
    },
    connect(options) {
      return percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema, ...options });
    },
    async engineWithHooks(hooks) {
      const timestampSource = await cluster.createTimestampSource();
      const engine = createTransactionEngine({ shards: cluster.shardUrls, timestampSource, hooks, registry: new Registry() });
      engine.register([meta]);
      return {
        engine,
        async close() {
          await engine.close();
          await timestampSource.close();
        },
      };
    },
    async committed() {
      const rows = await db.select().from(items).where(inArray(items.id, [x, y]));
      const valueOf = (id: number) => rows.find((r) => r.id === id)?.value;
      return { x: valueOf(x), y: valueOf(y) };
    },
    async close() {
      await db.close();
      await cluster.destroy();
    },
  };
}

/**
 * Checks on the servers themselves that each row lives on the expected shard.
 * A secondary is committed after the transaction returns, so a row may still
 * be a lock; one statement sees it either as a lock or as a version.
 */
async function assertStoredOn(cluster: PostgresCluster, meta: typeof itemsMeta, db: Database<typeof schema>, expected: Record<number, number>): Promise<void> {
  const ids = Object.keys(expected).map(Number);
  await db.insert(items).values(ids.map((id) => ({ id, value: 0 })));
  for (const [shard, server] of cluster.servers.entries()) {
    const client = new pg.Client(server.url);
    await client.connect();
    try {
      const { rows } = await client.query<{ id: number }>(`select id from "${meta.versionsTable}" where id = any($1) union select id from "${meta.locksTable}" where id = any($1)`, [ids]);
      for (const id of ids) {
        const here = rows.some((r) => r.id === id);
        if (here !== (expected[id] === shard)) throw new Error(`row ${id} expected on shard ${expected[id]}, found ${here ? '' : 'not '}on shard ${shard}`);
      }
    } finally {
      await client.end();
    }
  }
}
