import { and, asc, desc, eq, gt, gte, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  InvalidInputError,
  percolator,
  SchemaError,
  TransactionClosedError,
  TransactionRollbackError,
  UniqueViolationError,
  type Transaction,
} from '../../src/index.js';
import { describeTable } from '../../src/schema/table-meta.js';
import { shardOf } from '../../src/shard/shard-of.js';
import { CommitUndeterminedError, DatabaseClosedError, ShardUnavailableError } from '../../src/errors.js';
import { Registry } from 'prom-client';
import { Database } from '../../src/client/database.js';
import { clientMetrics } from '../../src/client/client-metrics.js';
import { TableRegistry } from '../../src/client/table-registry.js';
import { silentLogger } from '../../src/logger.js';
import type { CommitHooks } from '../../src/txn/commit-hooks.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import pg from 'pg';
import { accounts, orders, strangers } from '../support/client-schema.js';
import { useDatabase } from '../support/database-fixture.js';
import type { TestCluster } from '../support/test-cluster.js';

const schema = { accounts, orders };
type Schema = typeof schema;

const fixture = useDatabase(schema, { shardKeys: { orders: ['accountId'] }, maxRetries: 50 });
let cluster: TestCluster;
let db: Database<Schema>;

beforeAll(async () => {
  ({ cluster, db } = fixture);
  await db.migrate(); // idempotent
});

beforeEach(async () => {
  await db.delete(orders);
  await db.delete(accounts);
});

async function count(table: typeof accounts | typeof orders): Promise<number> {
  return (await db.select().from(table)).length;
}

describe('the issue example', () => {
  it('runs end to end', async () => {
    await db.insert(accounts).values([{ id: 1, balance: 100 }, { id: 2, balance: 5000 }]);
    await db.insert(orders).values([{ id: 1, accountId: 1, amount: -3 }, { id: 2, accountId: 1, amount: 4 }]);
    const before = await db.currentTimestamp();
    await db.transaction(async (tx) => {
      const [a] = await tx.select().from(accounts).where(eq(accounts.id, 1));
      await tx.update(accounts).set({ balance: a!.balance - 10 }).where(eq(accounts.id, 1));
      await tx.insert(orders).values({ id: 7, accountId: 1, amount: 10 });
      await tx.delete(orders).where(and(eq(orders.accountId, 1), lt(orders.amount, 0)));
    });
    const rich = await db.select().from(accounts).where(gt(accounts.balance, 1000));
    expect(rich.map((a) => a.id)).toEqual([2]);
    expect((await db.select({ balance: accounts.balance }).from(accounts).where(eq(accounts.id, 1)))[0]).toEqual({ balance: 90 });
    expect((await db.select({ id: orders.id }).from(orders).orderBy(orders.id)).map((o) => o.id)).toEqual([2, 7]);
    const old = await db.asOf(before).select().from(accounts).where(eq(accounts.id, 1));
    expect(old[0]!.balance).toBe(100);
    expect(await db.asOf(before).select().from(orders).orderBy(orders.id)).toHaveLength(2);
    const future = (await db.currentTimestamp()) + (60_000n << 18n);
    await expect(db.asOf(future).select().from(accounts)).rejects.toThrow(/is in the future/);
    expect(await db.transaction(async (tx) => tx.isolation)).toBe('snapshot');
    expect(await db.transaction(async (tx) => tx.isolation, { isolation: 'serializable' })).toBe('serializable');
  });
});

describe('ordering across shards', () => {
  it('orderBy + limit + offset merge like one table', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => ({
      accountId: i % 8,
      id: i,
      amount: (i * 7) % 13,
      note: i % 5 === 0 ? null : `n${(i * 3) % 11}`,
    }));
    const before = await rowsPerShard(describeTable(orders));
    await db.insert(orders).values(rows);
    const after = await rowsPerShard(describeTable(orders));
    expect(after.filter((n, i) => n > before[i]!).length).toBeGreaterThan(1); // the rows really are spread
    const cmpNullsLast = (a: string | null, b: string | null) => (a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1);
    const expected = [...rows].sort((a, b) => b.amount - a.amount || cmpNullsLast(a.note, b.note) || a.id - b.id);
    for (const [offset, limit] of [[0, 5], [3, 10], [35, 10], [0, 40], [39, 1]] as const) {
      const page = await db.select().from(orders).orderBy(desc(orders.amount), asc(orders.note), orders.id).limit(limit).offset(offset);
      expect(page.map((r) => r.id)).toEqual(expected.slice(offset, offset + limit).map((r) => r.id));
    }
    const filtered = await db.select({ id: orders.id }).from(orders).where(gte(orders.amount, 6)).orderBy(orders.id).offset(2);
    expect(filtered.map((r) => r.id)).toEqual(rows.filter((r) => r.amount >= 6).map((r) => r.id).slice(2));
    const nullsFirst = await db.select().from(orders).orderBy(desc(orders.note)).limit(8);
    expect(nullsFirst.map((r) => r.note)).toEqual(Array(8).fill(null));
  });
});

describe('inside a transaction', () => {
  it('reads its own writes through filters, ordering and limits; others see them only after commit', async () => {
    await db.insert(accounts).values([1, 2, 3, 4].map((id) => ({ id, balance: id * 10 })));
    await db.transaction(async (tx) => {
      await tx.insert(accounts).values({ id: 5, balance: 25 });
      await tx.update(accounts).set({ balance: 1 }).where(eq(accounts.id, 4));
      await tx.delete(accounts).where(eq(accounts.id, 3));
      const mine = await tx.select({ id: accounts.id }).from(accounts).where(gt(accounts.balance, 15)).orderBy(desc(accounts.balance));
      expect(mine.map((r) => r.id)).toEqual([5, 2]);
      expect((await tx.select().from(accounts).orderBy(accounts.balance).limit(2)).map((r) => r.id)).toEqual([4, 1]);
      expect(await tx.select().from(accounts).where(eq(accounts.id, 3))).toEqual([]);
      const outside = await db.select({ id: accounts.id }).from(accounts).orderBy(accounts.id);
      expect(outside.map((r) => r.id)).toEqual([1, 2, 3, 4]);
    });
    expect((await db.select({ id: accounts.id }).from(accounts).orderBy(accounts.id)).map((r) => r.id)).toEqual([1, 2, 4, 5]);
  });

  it('update and delete where, with returning', async () => {
    await db.insert(accounts).values([{ id: 1, balance: 10, owner: 'ann' }, { id: 2, balance: 20 }, { id: 3, balance: 30 }]);
    const updated = await db.update(accounts).set({ owner: 'rich' }).where(gte(accounts.balance, 20)).returning({ id: accounts.id, owner: accounts.owner });
    expect(updated.sort((a, b) => a.id - b.id)).toEqual([{ id: 2, owner: 'rich' }, { id: 3, owner: 'rich' }]);
    const full = await db.update(accounts).set({ balance: 11 }).where(eq(accounts.id, 1)).returning();
    expect(full).toEqual([expect.objectContaining({ id: 1, balance: 11, owner: 'ann' })]);
    expect(await db.update(accounts).set({ balance: 0 }).where(eq(accounts.id, 99))).toEqual({ rowCount: 0 });
    const removed = await db.delete(accounts).where(or(isNull(accounts.owner), eq(accounts.id, 3))).returning();
    expect(removed.map((r) => r.id).sort()).toEqual([3]);
    expect(await db.delete(accounts).where(inArray(accounts.id, [1, 2]))).toEqual({ rowCount: 2 });
    expect(await count(accounts)).toBe(0);
  });

  it('insert of an existing key fails with UniqueViolationError and writes nothing', async () => {
    await db.insert(accounts).values({ id: 1, balance: 1 });
    await expect(db.insert(accounts).values([{ id: 2, balance: 2 }, { id: 1, balance: 3 }])).rejects.toBeInstanceOf(UniqueViolationError);
    await expect(db.insert(accounts).values([{ id: 3, balance: 2 }, { id: 3, balance: 3 }])).rejects.toBeInstanceOf(UniqueViolationError);
    await expect(
      db.transaction(async (tx) => {
        await tx.insert(accounts).values({ id: 4, balance: 4 });
        await tx.insert(accounts).values({ id: 4, balance: 5 });
      }),
    ).rejects.toBeInstanceOf(UniqueViolationError);
    expect((await db.select().from(accounts)).map((r) => [r.id, r.balance])).toEqual([[1, 1]]);
  });

  it('tx.rollback() and thrown errors roll back and are rethrown', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.insert(accounts).values({ id: 1, balance: 1 });
        tx.rollback();
      }),
    ).rejects.toBeInstanceOf(TransactionRollbackError);
    const boom = new Error('boom');
    await expect(
      db.transaction(async (tx) => {
        await tx.insert(accounts).values({ id: 2, balance: 1 });
        throw boom;
      }),
    ).rejects.toBe(boom);
    // a rollback swallowed by the callback still rolls back
    await expect(
      db.transaction(async (tx) => {
        await tx.insert(accounts).values({ id: 3, balance: 1 });
        try {
          tx.rollback();
        } catch {}
      }),
    ).rejects.toBeInstanceOf(TransactionRollbackError);
    expect(await count(accounts)).toBe(0);
  });

  it('a transaction used after it ended throws TransactionClosedError', async () => {
    let leaked: Transaction<Schema> | undefined;
    await db.transaction(async (tx) => {
      leaked = tx;
    });
    await expect(leaked!.select().from(accounts)).rejects.toBeInstanceOf(TransactionClosedError);
    await expect(leaked!.insert(accounts).values({ id: 1, balance: 1 })).rejects.toBeInstanceOf(TransactionClosedError);
    expect(await count(accounts)).toBe(0);
  });
});

describe('large and closed', () => {
  it('inserts 20,000 rows in one transaction and reads them back in order', async () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ accountId: i % 97, id: i, amount: i % 1000, note: `order ${i}` }));
    expect(await db.insert(orders).values(rows)).toEqual({ rowCount: 20_000 });
    const top = await db.select({ id: orders.id }).from(orders).orderBy(desc(orders.id)).limit(3);
    expect(top).toEqual([{ id: 19_999 }, { id: 19_998 }, { id: 19_997 }]);
    expect(await db.delete(orders)).toEqual({ rowCount: 20_000 });
  });

  it('a closed database refuses work with DatabaseClosedError', async () => {
    const other = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema, shardKeys: { orders: ['accountId'] } });
    await other.close();
    await other.close(); // idempotent
    await expect(other.select().from(accounts)).rejects.toBeInstanceOf(DatabaseClosedError);
    await expect(other.transaction(async () => 1)).rejects.toBeInstanceOf(DatabaseClosedError);
  });
});

describe('retries', () => {
  it('two concurrent increments of one row both commit, the value goes up by two', async () => {
    await db.insert(accounts).values({ id: 1, balance: 0 });
    const retriesBefore = await retryCount();
    // Both first attempts read before either writes, so one of them must conflict.
    let arrived = 0;
    let release!: () => void;
    const bothRead = new Promise<void>((resolve) => (release = resolve));
    const increment = (attempts: { n: number }) =>
      db.transaction(async (tx) => {
        attempts.n++;
        const [a] = await tx.select().from(accounts).where(eq(accounts.id, 1));
        if (attempts.n === 1) {
          if (++arrived === 2) release();
          await bothRead;
        }
        await tx.update(accounts).set({ balance: a!.balance + 1 }).where(eq(accounts.id, 1));
      });
    const a = { n: 0 };
    const b = { n: 0 };
    await Promise.all([increment(a), increment(b)]);
    expect((await db.select().from(accounts))[0]!.balance).toBe(2);
    expect(a.n + b.n).toBeGreaterThan(2);
    expect(await retryCount()).toBeGreaterThan(retriesBefore);
  });
});

describe('shard pinning', () => {
  it('a transaction reads a key once: later point reads and update-where use what it already read', async () => {
    await db.insert(accounts).values([{ id: 1, balance: 10 }, { id: 2, balance: 20 }]);
    const server = cluster.shards.servers[shardOf(describeTable(accounts), { id: 1 }, 3)]!;
    const updated = await db.transaction(
      async (tx) => {
        const [a] = await tx.select().from(accounts).where(eq(accounts.id, 1));
        await server.stop();
        try {
          // the shard holding key 1 is down: these are answered from the transaction's own view
          expect(await tx.select({ b: accounts.balance }).from(accounts).where(eq(accounts.id, 1))).toEqual([{ b: 10 }]);
          return await tx.update(accounts).set({ balance: a!.balance + 5 }).where(eq(accounts.id, 1)).returning({ balance: accounts.balance });
        } finally {
          await server.start();
        }
      },
      { maxRetries: 0 },
    );
    expect(updated).toEqual([{ balance: 15 }]);
    expect((await db.select().from(accounts).where(inArray(accounts.id, [1, 2])).orderBy(accounts.id)).map((r) => r.balance)).toEqual([15, 20]);
  });

  it('a filter pinning the shard key reads only its shard: it works while another shard is down', async () => {
    const meta = describeTable(accounts);
    const ids = Array.from({ length: 12 }, (_, i) => i + 1);
    await db.insert(accounts).values(ids.map((id) => ({ id, balance: id })));
    const shardOfId = (id: number) => shardOf(meta, { id }, 3);
    const alive = ids.filter((id) => shardOfId(id) !== 2);
    const onDead = ids.find((id) => shardOfId(id) === 2)!;
    expect(onDead).toBeDefined();
    const down = cluster.shards.servers[2]!;
    await down.stop();
    try {
      const once = { maxRetries: 0 };
      const [row] = await db.transaction((tx) => tx.select().from(accounts).where(eq(accounts.id, alive[0]!)), once);
      expect(row?.balance).toBe(alive[0]);
      const some = await db.transaction((tx) => tx.select().from(accounts).where(and(inArray(accounts.id, alive), gt(accounts.balance, 0))), once);
      expect(some.map((r) => r.id).sort((a, b) => a - b)).toEqual(alive);
      await expect(db.transaction((tx) => tx.select().from(accounts), once)).rejects.toBeInstanceOf(ShardUnavailableError);
      await expect(db.transaction((tx) => tx.select().from(accounts).where(eq(accounts.id, onDead)), once)).rejects.toBeInstanceOf(ShardUnavailableError);
    } finally {
      await down.start();
    }
    expect(await count(accounts)).toBe(12);
  });
});

describe('commit outcomes', () => {
  /** A database whose engine runs `hooks` on the commit path (percolator() offers no hooks). */
  async function withHooks<T>(hooks: CommitHooks, use: (hooked: Database<Schema>) => Promise<T>): Promise<T> {
    const timestampSource = await cluster.createTimestampSource();
    const registry = new Registry();
    const engine = createTransactionEngine({ shards: cluster.shardUrls, timestampSource, registry, hooks });
    const tables = new TableRegistry(schema, { orders: ['accountId'] });
    engine.register(tables.tables);
    const hooked = new Database<Schema>({
      engine, tables, timestampSource, ownsTimestampSource: true, logger: silentLogger, registry,
      metrics: clientMetrics(registry), defaults: { isolation: 'snapshot', maxRetries: 5, backoff: { initialMs: 1, maxMs: 5 } },
    });
    try {
      return await use(hooked);
    } finally {
      await hooked.close();
    }
  }

  it('CommitUndeterminedError is never retried, and the commit it hid stands', async () => {
    let attempts = 0;
    const error = await withHooks(
      { afterCommitPrimary: ({ startTs }) => { throw new CommitUndeterminedError('injected: answer of commit-primary lost', startTs); } },
      (hooked) =>
        hooked
          .transaction(async (tx) => {
            attempts++;
            await tx.insert(accounts).values([1, 2, 3, 4, 5, 6].map((id) => ({ id, balance: id })));
          })
          .catch((e: unknown) => e),
    );
    expect(error).toBeInstanceOf(CommitUndeterminedError);
    expect(attempts).toBe(1);
    // the primary was committed: every row is visible (secondaries rolled forward by readers)
    expect((await db.select().from(accounts)).map((r) => r.id).sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('gives up after maxRetries with the last retryable error', async () => {
    let attempts = 0;
    const error = await withHooks(
      {
        beforeCommitPrimary: () => {
          throw new ShardUnavailableError('#0 (injected, always)');
        },
      },
      (hooked) =>
        hooked
          .transaction(
            async (tx) => {
              attempts++;
              await tx.insert(accounts).values({ id: 1, balance: 1 });
            },
            { maxRetries: 2 },
          )
          .catch((e: unknown) => e),
    );
    expect(error).toBeInstanceOf(ShardUnavailableError);
    expect(attempts).toBe(3);
    expect(await count(accounts)).toBe(0);
  });

  it('a retryable failure before the commit point runs the callback again', async () => {
    let failures = 0;
    let attempts = 0;
    await withHooks(
      {
        beforeCommitPrimary: () => {
          if (failures++ === 0) throw new ShardUnavailableError('#0 (injected)');
        },
      },
      (hooked) =>
        hooked.transaction(async (tx) => {
          attempts++;
          await tx.insert(accounts).values({ id: 1, balance: 1 });
        }),
    );
    expect(attempts).toBe(2);
    expect(await db.select().from(accounts)).toEqual([expect.objectContaining({ id: 1, balance: 1 })]);
  });
});

async function retryCount(): Promise<number> {
  const metric = await db.registry.getSingleMetric('percolator_retries_total')!.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}

describe('bad input is refused before anything is written', () => {
  const cases: Array<[string, () => PromiseLike<unknown>, RegExp]> = [
    ['table not in the schema', () => db.insert(strangers as never).values({ id: 1 } as never), /not in the schema/],
    ['unknown column', () => db.insert(accounts).values({ id: 1, balance: 1, colour: 'red' } as never), /no column "colour"/],
    ['wrong JS type', () => db.insert(accounts).values({ id: 1, balance: '1' as never }), /expected a 32-bit integer/],
    ['not-null violated', () => db.insert(accounts).values({ id: 1, balance: null as never }), /is not null/],
    ['varchar too long', () => db.insert(accounts).values({ id: 1, balance: 1, owner: 'x'.repeat(17) }), /exceeds varchar\(16\)/],
    ['oversized row', () => db.insert(orders).values({ accountId: 1, id: 1, amount: 1, note: 'x'.repeat(2 ** 20 + 1) }), /byte limit/],
    ['SQL in set()', () => db.update(accounts).set({ balance: sql`${accounts.balance} + 1` as never }), /SQL expression/],
    ['filter on another table', () => db.delete(accounts).where(eq(orders.id, 1)), /another table/],
    ['select filter on another table', () => db.select().from(accounts).where(eq(orders.id, 1)), /another table/],
    ['second row bad', () => db.insert(accounts).values([{ id: 1, balance: 1 }, { id: 2, balance: 1.5 }]), /row 1/],
  ];
  it.each(cases)('%s', async (_name, run, message) => {
    await db.insert(accounts).values({ id: 100, balance: 1 });
    const error = await Promise.resolve(run()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(_name === 'table not in the schema' ? SchemaError : InvalidInputError);
    expect((error as Error).message).toMatch(message);
    expect((await db.select().from(accounts)).map((r) => [r.id, r.balance])).toEqual([[100, 1]]);
    expect(await count(orders)).toBe(0);
  });

  it('a bad write inside a transaction aborts it whole', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.insert(accounts).values({ id: 1, balance: 1 });
        await tx.insert(accounts).values({ id: 2, balance: 'x' as never });
      }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(await count(accounts)).toBe(0);
  });
});

/** Rows (all versions) of a storage table on each shard, straight from Postgres. */
/** Versions and locks per shard: secondaries are committed after the insert returns. */
async function rowsPerShard(meta: { versionsTable: string; locksTable: string }): Promise<number[]> {
  return Promise.all(
    cluster.shardUrls.map(async (url) => {
      const client = new pg.Client(url);
      await client.connect();
      try {
        const { rows } = await client.query<{ n: string }>(`select (select count(*) from "${meta.versionsTable}") + (select count(*) from "${meta.locksTable}") as n`);
        return Number(rows[0]!.n);
      } finally {
        await client.end();
      }
    }),
  );
}
