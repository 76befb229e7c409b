import { eq, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SerializationError } from '../../src/index.js';
import { items, itemsMeta, startHermitage, type HermitageFixture, type Tx } from './hermitage-fixture.js';

/**
 * Serializable validation against a transaction held between prewrite and
 * its commit point (commit-path hook): its lock is all there is to see, yet
 * it already has a commit_ts below the validator's. DESIGN.md: "a pending
 * lock counts as a conflict because its owner may already hold a smaller
 * commit timestamp".
 */
let h: HermitageFixture;
beforeAll(async () => {
  h = await startHermitage();
});
afterAll(async () => {
  await h?.close();
});

const value = async (tx: Tx, id: number) => (await tx.select().from(items).where(eq(items.id, id)))[0]?.value;
const write = (tx: Tx, id: number, v: number) => tx.update(items).set({ value: v }).where(eq(items.id, id));
const multipleOf3 = sql`${items.value} % 3 = 0`;

/** A second client whose transactions stop just before committing their primary, until released. */
async function heldClient() {
  let reached!: () => void;
  let release!: () => void;
  const atCommitPoint = new Promise<void>((resolve) => (reached = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const client = await h.engineWithHooks({
    async beforeCommitPrimary() {
      reached();
      await released;
    },
  });
  return { ...client, atCommitPoint, release };
}

describe('serializable validation meets a pending lock', () => {
  let held: Awaited<ReturnType<typeof heldClient>>;
  beforeEach(async () => {
    await h.reset();
    held = await heldClient();
  });
  afterEach(async () => {
    held.release();
    await h.abandonOpenTransactions();
    await held.close();
  });

  it('on a key it read: the write skew is caught although the other side has not committed yet', async () => {
    const t1 = await h.begin('T1', 'serializable');
    expect(await t1.step((tx) => value(tx, h.x))).toBe(10);

    const t2 = await held.engine.begin({ isolation: 'serializable' });
    expect((await t2.select(itemsMeta, { where: eq(items.id, h.y) }))[0]?.['value']).toBe(20);
    t2.put(itemsMeta, [{ id: h.x, value: 12 }]);
    const t2Committed = t2.commit();
    await held.atCommitPoint; // T2: prewritten, validated, commit_ts known, primary not committed

    await t1.step((tx) => write(tx, h.y, 21));
    expect(await t1.tryCommit()).toBeInstanceOf(SerializationError);
    held.release();
    await t2Committed;
    expect(await h.committed()).toEqual({ x: 12, y: 20 });
  });

  it('matching a scanned filter: a pending insert is a phantom', async () => {
    const t1 = await h.begin('T1', 'serializable');
    expect(await t1.step((tx) => tx.select().from(items).where(multipleOf3))).toEqual([]);

    const t2 = await held.engine.begin({ isolation: 'serializable' });
    await t2.insert(itemsMeta, [{ id: h.free[0], value: 30 }]);
    const t2Committed = t2.commit();
    await held.atCommitPoint;

    await t1.step((tx) => write(tx, h.y, 21));
    expect(await t1.tryCommit()).toBeInstanceOf(SerializationError);
    held.release();
    await t2Committed;
  });

  it('not matching a scanned filter: no conflict', async () => {
    const t1 = await h.begin('T1', 'serializable');
    expect(await t1.step((tx) => tx.select().from(items).where(multipleOf3))).toEqual([]);

    const t2 = await held.engine.begin({ isolation: 'serializable' });
    await t2.insert(itemsMeta, [{ id: h.free[0], value: 31 }]);
    const t2Committed = t2.commit();
    await held.atCommitPoint;

    await t1.step((tx) => write(tx, h.y, 21));
    expect(await t1.tryCommit()).toBeUndefined();
    held.release();
    await t2Committed;
  });
});

describe('what validation costs', () => {
  beforeEach(async () => {
    await h.reset();
  });

  it('read-only serializable transactions skip it; writing ones pay one validation', async () => {
    const before = await validations();
    await h.db.transaction(async (tx) => [await value(tx, h.x), await value(tx, h.y)], { isolation: 'serializable' });
    await h.db.transaction(async (tx) => tx.select().from(items).where(multipleOf3), { isolation: 'serializable' });
    expect(await validations()).toBe(before);
    await h.db.transaction(async (tx) => write(tx, h.x, (await value(tx, h.y))! + 1), { isolation: 'serializable' });
    expect(await validations()).toBe(before + 1);
    // Snapshot isolation has nothing to validate: no validate phase at all.
    await h.db.transaction(async (tx) => write(tx, h.x, (await value(tx, h.y))! + 1));
    expect(await validations()).toBe(before + 1);
  });

  it('a writing transaction that read only the rows it writes sends none: its prewrite checked them', async () => {
    const before = await validations();
    await h.db.transaction(async (tx) => write(tx, h.x, 11), { isolation: 'serializable' });
    await h.db.transaction(async (tx) => {
      const [x, y] = [await value(tx, h.x), await value(tx, h.y)];
      await write(tx, h.x, x! + 1);
      await write(tx, h.y, y! + 1);
    }, { isolation: 'serializable' });
    expect(await validations()).toBe(before);
    expect(await h.committed()).toEqual({ x: 12, y: 21 });
  });
});

/** How many times the commit path ran its `validate` phase (engine metric). */
async function validations(): Promise<number> {
  const metric = await h.db.registry.getSingleMetric('percolator_phase_seconds')?.get();
  const count = metric?.values.find((v) => (v as { metricName?: string }).metricName === 'percolator_phase_seconds_count' && v.labels['phase'] === 'validate');
  return count?.value ?? 0;
}
