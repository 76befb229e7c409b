import { count, eq, max, sql, type SQL } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SerializationError, WriteConflictError } from '../../src/index.js';
import { items, startHermitage, tags, type HermitageFixture, type Tx } from './hermitage-fixture.js';
import { ScriptedTransaction } from './scripted-transaction.js';

/**
 * Martin Kleppmann's Hermitage cases as deterministic schedules (TESTING.md),
 * over two rows x = 10 and y = 20 stored on different shards. Each case runs
 * under both isolation levels, its reads made by plain selects, by
 * aggregates, and by a join with a colocated table: snapshot isolation must prevent everything but
 * write skew (G2-item, G2 over predicates, Fekete's read-only anomaly);
 * serializable must prevent all of them.
 */
let h: HermitageFixture;
beforeAll(async () => {
  h = await startHermitage();
});
afterAll(async () => {
  await h?.close();
});

const value = async (tx: Tx, id: number): Promise<number | undefined> =>
  (await tx.select().from(items).where(eq(items.id, id)))[0]?.value;
const write = (tx: Tx, id: number, v: number) => tx.update(items).set({ value: v }).where(eq(items.id, id));
const ids = (rows: { id: number }[]) => rows.map((r) => r.id).sort((a, b) => a - b);

/** How a case's transactions read x, y or the rows matching a filter: plain selects, aggregates (grouped by key), or a colocated join. */
const reads = {
  select: { value, rows: (tx: Tx, where?: SQL) => tx.select().from(items).where(where) },
  aggregate: {
    value: async (tx: Tx, id: number): Promise<number | undefined> => {
      const [row] = await tx.select({ n: count(), value: max(items.value) }).from(items).where(eq(items.id, id));
      return row!.n === 0 ? undefined : row!.value!;
    },
    rows: async (tx: Tx, where?: SQL) =>
      (await tx.select({ id: items.id, value: max(items.value) }).from(items).where(where).groupBy(items.id)).map((r) => ({ id: r.id, value: r.value! })),
  },
  join: {
    value: async (tx: Tx, id: number): Promise<number | undefined> =>
      (await tx.select({ value: items.value }).from(items).innerJoin(tags, eq(tags.id, items.id)).where(eq(items.id, id)))[0]?.value,
    rows: (tx: Tx, where?: SQL) => tx.select({ id: items.id, value: items.value }).from(items).innerJoin(tags, eq(tags.id, items.id)).where(where),
  },
};
const multipleOf3 = sql`${items.value} % 3 = 0`;

const isolations = ['snapshot', 'serializable'] as const;
const paths = ['select', 'aggregate', 'join'] as const;
describe.each(isolations.flatMap((isolation) => paths.map((path) => [isolation, path] as const)))('Hermitage under %s isolation, reads through %s', (isolation, path) => {
  const { value, rows } = reads[path];
  const serializable = isolation === 'serializable';
  beforeEach(async () => {
    await h.reset();
  });
  afterEach(async () => {
    await h.abandonOpenTransactions();
  });
  const begin = (name: string) => h.begin(name, isolation);

  it('G0 dirty write: the later writer of x and y fails, the rows stay from one transaction', async () => {
    const { x, y } = h;
    const t1 = await begin('T1');
    const t2 = await begin('T2');
    await t1.step((tx) => write(tx, x, 11));
    await t2.step((tx) => write(tx, x, 12));
    await t1.step((tx) => write(tx, y, 21));
    await t1.commit();
    await t2.step((tx) => write(tx, y, 22));
    expect(await t2.tryCommit()).toBeInstanceOf(WriteConflictError);
    expect(await h.committed()).toEqual({ x: 11, y: 21 });
  });

  it('G1a aborted read: an aborted write is never seen', async () => {
    const t1 = await begin('T1');
    const t2 = await begin('T2');
    await t1.step((tx) => write(tx, h.x, 101));
    expect(await t2.step((tx) => value(tx, h.x))).toBe(10);
    await t1.rollback((tx) => tx.rollback());
    expect(await t2.step((tx) => value(tx, h.x))).toBe(10);
    await t2.commit();
    expect(await h.committed()).toEqual({ x: 10, y: 20 });
  });

  it('G1b intermediate read: only the final write of a transaction is ever seen, and only after it commits', async () => {
    const t1 = await begin('T1');
    const t2 = await begin('T2');
    await t1.step((tx) => write(tx, h.x, 101));
    expect(await t2.step((tx) => value(tx, h.x))).toBe(10);
    await t1.step((tx) => write(tx, h.x, 11));
    await t1.commit();
    expect(await t2.step((tx) => value(tx, h.x))).toBe(10);
    await t2.commit();
    expect(await h.committed()).toEqual({ x: 11, y: 20 });
  });

  it('G1c circular information flow: neither sees the other; under serializable the second committer fails (the two form a write skew)', async () => {
    const t1 = await begin('T1');
    const t2 = await begin('T2');
    await t1.step((tx) => write(tx, h.x, 11));
    await t2.step((tx) => write(tx, h.y, 22));
    expect(await t1.step((tx) => value(tx, h.y))).toBe(20);
    expect(await t2.step((tx) => value(tx, h.x))).toBe(10);
    await t1.commit();
    const t2Error = await t2.tryCommit();
    if (serializable) {
      expect(t2Error).toBeInstanceOf(SerializationError);
      expect(await h.committed()).toEqual({ x: 11, y: 20 });
    } else {
      expect(t2Error).toBeUndefined();
      expect(await h.committed()).toEqual({ x: 11, y: 22 });
    }
  });

  it('OTV observed transaction vanishes: a reader sees all of T1 and none of the failed T2', async () => {
    const t1 = await begin('T1');
    const t2 = await begin('T2');
    await t1.step((tx) => write(tx, h.x, 11));
    await t1.step((tx) => write(tx, h.y, 19));
    await t2.step((tx) => write(tx, h.x, 12));
    await t1.commit();
    const t3 = await begin('T3');
    expect(await t3.step((tx) => value(tx, h.x))).toBe(11);
    await t2.step((tx) => write(tx, h.y, 18));
    expect(await t3.step((tx) => value(tx, h.y))).toBe(19);
    expect(await t2.tryCommit()).toBeInstanceOf(WriteConflictError);
    expect(await t3.step((tx) => value(tx, h.x))).toBe(11);
    expect(await t3.step((tx) => value(tx, h.y))).toBe(19);
    await t3.commit();
    expect(await h.committed()).toEqual({ x: 11, y: 19 });
  });

  it('PMP predicate-many-preceders: a predicate read does not see a row inserted after the snapshot', async () => {
    const t1 = await begin('T1');
    const t2 = await begin('T2');
    expect(await t1.step((tx) => rows(tx, eq(items.value, 30)))).toEqual([]);
    await t2.step((tx) => tx.insert(items).values({ id: h.free[0], value: 30 }));
    await t2.commit();
    expect(await t1.step((tx) => rows(tx, multipleOf3))).toEqual([]);
    await t1.commit();
    expect(ids(await h.db.select().from(items).where(multipleOf3))).toEqual([h.free[0]]);
  });

  it('P4 lost update: of two read-modify-writes of x, the later committer fails', async () => {
    const t1 = await begin('T1');
    const t2 = await begin('T2');
    expect(await t1.step((tx) => value(tx, h.x))).toBe(10);
    expect(await t2.step((tx) => value(tx, h.x))).toBe(10);
    await t1.step((tx) => write(tx, h.x, 11));
    await t2.step((tx) => write(tx, h.x, 11));
    await t1.commit();
    expect(await t2.tryCommit()).toBeInstanceOf(WriteConflictError);
    expect(await h.committed()).toEqual({ x: 11, y: 20 });
  });

  it('G-single read skew: a reader of x keeps reading y from the same snapshot', async () => {
    const t1 = await begin('T1');
    const t2 = await begin('T2');
    expect(await t1.step((tx) => value(tx, h.x))).toBe(10);
    expect(await t2.step((tx) => value(tx, h.x))).toBe(10);
    expect(await t2.step((tx) => value(tx, h.y))).toBe(20);
    await t2.step((tx) => write(tx, h.x, 12));
    await t2.step((tx) => write(tx, h.y, 18));
    await t2.commit();
    expect(await t1.step((tx) => value(tx, h.y))).toBe(20);
    await t1.commit();
    expect(await h.committed()).toEqual({ x: 12, y: 18 });
  });

  it(`G2-item write skew: ${serializable ? 'the second committer fails' : 'both commit (snapshot isolation allows it)'}`, async () => {
    const t1 = await begin('T1');
    const t2 = await begin('T2');
    for (const t of [t1, t2]) {
      expect(await t.step((tx) => value(tx, h.x))).toBe(10);
      expect(await t.step((tx) => value(tx, h.y))).toBe(20);
    }
    await t1.step((tx) => write(tx, h.x, 11));
    await t2.step((tx) => write(tx, h.y, 21));
    await t1.commit();
    const t2Error = await t2.tryCommit();
    if (serializable) {
      expect(t2Error).toBeInstanceOf(SerializationError);
      expect(await h.committed()).toEqual({ x: 11, y: 20 });
    } else {
      expect(t2Error).toBeUndefined();
      expect(await h.committed()).toEqual({ x: 11, y: 21 });
    }
  });

  it(`G2-item write skew committed concurrently: ${serializable ? 'never both (a pending lock counts as a conflict)' : 'both commit'}`, async () => {
    const t1 = await begin('T1');
    const t2 = await begin('T2');
    for (const t of [t1, t2]) {
      expect(await t.step((tx) => value(tx, h.x))).toBe(10);
      expect(await t.step((tx) => value(tx, h.y))).toBe(20);
    }
    await t1.step((tx) => write(tx, h.x, 11));
    await t2.step((tx) => write(tx, h.y, 21));
    const errors = await Promise.all([t1.tryCommit(), t2.tryCommit()]);
    const committed = errors.filter((e) => e === undefined).length;
    if (serializable) {
      expect(committed).toBeLessThanOrEqual(1);
      for (const e of errors) if (e !== undefined) expect(e).toBeInstanceOf(SerializationError);
    } else {
      expect(errors).toEqual([undefined, undefined]);
    }
  });

  it(`G2 anti-dependency cycle over a predicate: ${serializable ? 'the second inserter fails' : 'both insert (allowed)'}`, async () => {
    const t1 = await begin('T1');
    const t2 = await begin('T2');
    expect(await t1.step((tx) => rows(tx, multipleOf3))).toEqual([]);
    expect(await t2.step((tx) => rows(tx, multipleOf3))).toEqual([]);
    await t1.step((tx) => tx.insert(items).values({ id: h.free[0], value: 30 }));
    await t2.step((tx) => tx.insert(items).values({ id: h.free[1], value: 42 }));
    await t1.commit();
    const t2Error = await t2.tryCommit();
    const found = ids(await h.db.select().from(items).where(multipleOf3));
    if (serializable) {
      expect(t2Error).toBeInstanceOf(SerializationError);
      expect(found).toEqual([h.free[0]]);
    } else {
      expect(t2Error).toBeUndefined();
      expect(found).toEqual([h.free[0], h.free[1]].sort((a, b) => a - b));
    }
  });

  it(`G2 read-only anomaly (Fekete): ${serializable ? 'T1, whose read T2 overwrote, fails' : 'all commit (allowed)'}`, async () => {
    const t1 = await begin('T1');
    const t2 = await begin('T2');
    expect(ids(await t1.step((tx) => rows(tx)))).toEqual([h.x, h.y].sort((a, b) => a - b));
    const y = await t2.step((tx) => value(tx, h.y));
    await t2.step((tx) => write(tx, h.y, y! + 5));
    await t2.commit();
    const t3 = await begin('T3');
    const seenByT3 = await t3.step((tx) => rows(tx));
    expect(Object.fromEntries(seenByT3.map((r) => [r.id, r.value]))).toEqual({ [h.x]: 10, [h.y]: 25 });
    await t3.commit();
    await t1.step((tx) => write(tx, h.x, 0));
    const t1Error = await t1.tryCommit();
    if (serializable) {
      expect(t1Error).toBeInstanceOf(SerializationError);
      expect(await h.committed()).toEqual({ x: 10, y: 25 });
    } else {
      expect(t1Error).toBeUndefined();
      expect(await h.committed()).toEqual({ x: 0, y: 25 });
    }
  });
});

describe('write skew with db.transaction retrying (doctors on call)', () => {
  beforeEach(async () => {
    await h.reset();
  });

  it('serializable: the loser of the first round retries, sees the winner, and stays on call', async () => {
    // Each doctor (x, y) goes off call (value 0) only if the other is still on call.
    const errors: unknown[] = [];
    let arrived = 0;
    let bothRead!: () => void;
    const barrier = new Promise<void>((resolve) => (bothRead = resolve));
    const goOffCall = (me: number, other: number) =>
      h.db.transaction(
        async (tx) => {
          const onCall = [await value(tx, me), await value(tx, other)];
          // First attempts meet here, so both read before either writes.
          if (++arrived === 2) bothRead();
          await barrier;
          if (onCall.every((v) => v! > 0)) await write(tx, me, 0);
        },
        { isolation: 'serializable', maxRetries: 20 },
      ).catch((error: unknown) => errors.push(error));
    const retriesBefore = await serializationRetries();
    await Promise.all([goOffCall(h.x, h.y), goOffCall(h.y, h.x)]);
    expect(errors).toEqual([]);
    const { x, y } = await h.committed();
    expect([x, y].filter((v) => v === 0)).toHaveLength(1);
    expect(await serializationRetries()).toBeGreaterThan(retriesBefore);
  });
});

/** Retries the client made after a SerializationError (metric percolator_retries_total{cause}). */
async function serializationRetries(): Promise<number> {
  const metric = await h.db.registry.getSingleMetric('percolator_retries_total')?.get();
  return (metric?.values ?? []).filter((v) => v.labels['cause'] === 'SERIALIZATION_FAILURE').reduce((sum, v) => sum + v.value, 0);
}

describe('isolation chosen per database', () => {
  beforeEach(async () => {
    await h.reset();
  });

  it("a database created with isolation 'serializable' runs db.transaction serializable by default", async () => {
    const strict = await h.connect({ isolation: 'serializable' });
    try {
      const begin = (name: string) => ScriptedTransaction.begin<Tx>(name, (fn) => strict.transaction(fn, { maxRetries: 0 }));
      const t1 = await begin('T1');
      const t2 = await begin('T2');
      // Write skew: T1 reads x and writes y, T2 reads y and writes x.
      expect(await t1.step((tx) => value(tx, h.x))).toBe(10);
      expect(await t2.step((tx) => value(tx, h.y))).toBe(20);
      await t1.step((tx) => write(tx, h.y, 21));
      await t2.step((tx) => write(tx, h.x, 11));
      expect(await t1.tryCommit()).toBeUndefined();
      expect(await t2.tryCommit()).toBeInstanceOf(SerializationError);
    } finally {
      await strict.close();
    }
  });
});
