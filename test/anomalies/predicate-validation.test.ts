import { and, between, eq, gte, lt } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SerializationError } from '../../src/index.js';
import { items, startHermitage, type HermitageFixture, type Tx } from './hermitage-fixture.js';

/**
 * Phantoms: T1 scans a predicate, T2 changes what the scan would return and
 * commits, then T1 writes elsewhere and commits. Serializable must fail T1
 * whenever T2 changed the predicate's result (insert into, update into,
 * update out of, delete from), and must not fail it for changes the scan
 * could not see (rows outside the predicate, commits before T1's snapshot).
 * Snapshot isolation lets every case commit.
 */
let h: HermitageFixture;
beforeAll(async () => {
  h = await startHermitage();
});
afterAll(async () => {
  await h?.close();
});

const inRange = between(items.value, 100, 199);
const write = (tx: Tx, id: number, v: number) => tx.update(items).set({ value: v }).where(eq(items.id, id));

type Change = (tx: Tx, ids: { inside: number; outside: number; fresh: number }) => Promise<unknown>;
const changes: Record<string, { change: Change; visibleToScan: boolean }> = {
  'insert into the predicate': { change: (tx, r) => tx.insert(items).values({ id: r.fresh, value: 150 }), visibleToScan: true },
  'update into the predicate': { change: (tx, r) => write(tx, r.outside, 120), visibleToScan: true },
  'update out of the predicate': { change: (tx, r) => write(tx, r.inside, 500), visibleToScan: true },
  'update within the predicate': { change: (tx, r) => write(tx, r.inside, 101), visibleToScan: true },
  'delete from the predicate': { change: (tx, r) => tx.delete(items).where(eq(items.id, r.inside)), visibleToScan: true },
  'insert outside the predicate': { change: (tx, r) => tx.insert(items).values({ id: r.fresh, value: 250 }), visibleToScan: false },
  'update outside the predicate': { change: (tx, r) => write(tx, r.outside, 260), visibleToScan: false },
  'delete outside the predicate': { change: (tx, r) => tx.delete(items).where(eq(items.id, r.outside)), visibleToScan: false },
};

describe.each(['snapshot', 'serializable'] as const)('predicate reads under %s isolation', (isolation) => {
  const serializable = isolation === 'serializable';
  let rows: { inside: number; outside: number; fresh: number };
  beforeEach(async () => {
    await h.reset();
    const [inside, outside, fresh] = h.free;
    await h.db.insert(items).values([
      { id: inside, value: 150 },
      { id: outside, value: 50 },
    ]);
    rows = { inside, outside, fresh };
  });
  afterEach(async () => {
    await h.abandonOpenTransactions();
  });

  it.each(Object.entries(changes))('a concurrent %s', async (_name, { change, visibleToScan }) => {
    const t1 = await h.begin('T1', isolation);
    const t2 = await h.begin('T2', isolation);
    const scanned = await t1.step((tx) => tx.select().from(items).where(inRange));
    expect(scanned.map((r) => r.id)).toEqual([rows.inside]);
    await t2.step((tx) => change(tx, rows));
    await t2.commit();
    await t1.step((tx) => write(tx, h.y, 21));
    const error = await t1.tryCommit();
    if (serializable && visibleToScan) expect(error).toBeInstanceOf(SerializationError);
    else expect(error).toBeUndefined();
  });

  it('a key read as absent, then inserted by another transaction', async () => {
    const t1 = await h.begin('T1', isolation);
    const t2 = await h.begin('T2', isolation);
    expect(await t1.step((tx) => tx.select().from(items).where(eq(items.id, rows.fresh)))).toEqual([]);
    await t2.step((tx) => tx.insert(items).values({ id: rows.fresh, value: 7 }));
    await t2.commit();
    await t1.step((tx) => write(tx, h.y, 21));
    const error = await t1.tryCommit();
    if (serializable) expect(error).toBeInstanceOf(SerializationError);
    else expect(error).toBeUndefined();
  });

  it('a change committed before the snapshot never conflicts', async () => {
    await h.db.update(items).set({ value: 120 }).where(eq(items.id, rows.outside));
    const t1 = await h.begin('T1', isolation);
    expect(await t1.step((tx) => tx.select().from(items).where(inRange))).toHaveLength(2);
    await t1.step((tx) => write(tx, h.y, 21));
    expect(await t1.tryCommit()).toBeUndefined();
  });

  it('a read-only transaction commits whatever changed under it (its snapshot is serializable as is)', async () => {
    const t1 = await h.begin('T1', isolation);
    expect(await t1.step((tx) => tx.select().from(items).where(inRange))).toHaveLength(1);
    await h.db.insert(items).values({ id: rows.fresh, value: 150 });
    expect(await t1.step((tx) => tx.select().from(items).where(and(gte(items.value, 100), lt(items.value, 200))))).toHaveLength(1);
    expect(await t1.tryCommit()).toBeUndefined();
  });
});
