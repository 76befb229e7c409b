import { asc, eq } from 'drizzle-orm';
import { bigint, boolean, date, integer, jsonb, numeric, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid, varchar, index } from 'drizzle-orm/pg-core';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import { slotOf } from '../../src/shard/shard-of.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import { percolator, UniqueViolationError, type Database } from '../../src/index.js';
import { describeTable } from '../../src/schema/table-meta.js';
import { SLOT_COUNT } from '../../src/shard/placement-map.js';
import { MOVE_STEPS, finishMoves, moveSlots, type MoveProgress, type MoveStep } from '../../src/txn/slot-move.js';
import { pausePoint } from '../support/pause-point.js';
import { queryOnShards } from '../support/raw-shards.js';
import { expectOneOwnerEach, slotRowsPerShard, slotsOfRows, slotsOn } from '../support/slot-moves.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

const kind = pgEnum('gadget_kind', ['small', 'large']);
/** A column of every kind of type the engine stores, a unique and a plain index. */
const gadgets = pgTable(
  'gadgets',
  {
    id: integer('id').primaryKey(),
    big: bigint('big', { mode: 'bigint' }),
    price: numeric('price', { precision: 10, scale: 2 }),
    label: varchar('label', { length: 20 }).notNull(),
    flag: boolean('flag'),
    doc: jsonb('doc'),
    at: timestamp('at', { withTimezone: true }),
    day: date('day'),
    uid: uuid('uid'),
    tags: text('tags').array(),
    kind: kind('kind'),
  },
  (t) => [uniqueIndex('gadgets_label_idx').on(t.label), index('gadgets_big_idx').on(t.big)],
);
const gadgetsMeta = describeTable(gadgets);
const schema = { gadgets };
const ROWS = 300;

function gadget(id: number, round = 0) {
  return {
    id,
    big: BigInt(id) * 10_000_000_000n + BigInt(round),
    price: `${id}.${String(round).padStart(2, '0')}`,
    label: `g-${id}`,
    flag: (id + round) % 2 === 0,
    doc: { id, round, nested: { list: [id, 'x', null] } },
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, id % 60, round)),
    day: `2026-02-${String((id % 28) + 1).padStart(2, '0')}`,
    uid: `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`,
    tags: [`t${id}`, 'with,comma', 'quote"d'],
    kind: id % 3 === 0 ? ('large' as const) : ('small' as const),
  };
}

/**
 * Moving slots with their data (src/txn/slot-move.ts), on real shards: every
 * stored version and latest row of the slots arrives with its typed
 * values, index entries move with the slots of their keys, and clients with
 * a map from before the move, or started during it, read and write the
 * moved rows without an error.
 */
describe('moving slots with data', () => {
  let cluster: TestCluster;
  let db: Database<typeof schema>;
  let stale: Database<typeof schema>;

  beforeAll(async () => {
    cluster = await startTestCluster({ shards: 3 });
    db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema, gc: false });
    await db.migrate();
    await db.insert(gadgets).values(Array.from({ length: ROWS }, (_, id) => gadget(id)));
    // More versions: updates and deletes.
    for (let id = 0; id < ROWS; id += 7) await db.update(gadgets).set(gadget(id, 1)).where(eq(gadgets.id, id));
    for (let id = 3; id < ROWS; id += 29) await db.delete(gadgets).where(eq(gadgets.id, id));
    stale = await percolator({ oracle: [cluster.oracleAddress], schema, maxRetries: 0, gc: false });
    await stale.select().from(gadgets).where(eq(gadgets.id, 1));
  });
  afterAll(async () => {
    await stale?.close();
    await db?.close();
    await cluster?.destroy();
  });

  const all = () => db.select().from(gadgets).orderBy(asc(gadgets.id));
  const versionsOf = async (slots: number[]) =>
    queryOnShards<{ v: string }>(
      cluster.shardUrls,
      `select string_agg(t::text, '|' order by t::text) as v from (select id, commit_ts, start_ts, op, big, price, label, flag, doc, at, day, uid, tags, kind from gadgets__versions where slot = any('{${slots.join(',')}}'::int[])) t`,
    );

  it('moves every slot of shard 0 to shard 1: versions, latest rows and index entries, typed values intact', async () => {
    const before = await all();
    const everySlot = Array.from({ length: SLOT_COUNT }, (_, s) => s);
    const slots = slotsOn(db.placement, 0, everySlot);
    const rowSlots = slotsOn(db.placement, 0, slotsOfRows(gadgetsMeta, 'id', before.map((r) => r.id)));
    const versionsBefore = (await versionsOf(rowSlots))[0]![0]!.v;
    const progress: MoveProgress[] = [];
    const map = await moveSlots(db.slotMoves, { from: 0, to: 1, slots }, { pageRows: 40, onProgress: (p) => progress.push(p) });
    expect(map.version).toBe(2n);
    expect(slots.every((slot) => map.shardOfSlot(slot) === 1)).toBe(true);
    // Every version (puts, deletes, the updates' older images) arrived as it was stored.
    expect((await versionsOf(rowSlots))[1]![0]!.v).toBe(versionsBefore);
    expect(await all()).toEqual(before);
    expect(await stale.select().from(gadgets).orderBy(asc(gadgets.id))).toEqual(before);
    const steps = progress.map((p) => p.phase).filter((p): p is MoveStep => (MOVE_STEPS as readonly string[]).includes(p));
    expect(steps).toEqual(MOVE_STEPS.filter((s) => s !== 'journaled'));
    expect(progress.at(-1)!.rowsCopied).toBeGreaterThan(ROWS);
    await expectOneOwnerEach(cluster.shardUrls, db.placement, slots);

    // Index entries moved with their slots: lookups through the indexes, and the unique index still refuses a duplicate.
    const sample = before.find((r) => r.id === 14)!;
    expect(await db.select().from(gadgets).where(eq(gadgets.label, sample.label))).toEqual([sample]);
    expect(await db.select().from(gadgets).where(eq(gadgets.big, sample.big!))).toEqual([sample]);
    await expect(db.insert(gadgets).values({ ...gadget(ROWS + 1), label: sample.label })).rejects.toBeInstanceOf(UniqueViolationError);
    await expect(stale.insert(gadgets).values({ ...gadget(ROWS + 2), label: before[1]!.label })).rejects.toBeInstanceOf(UniqueViolationError);
  });

  it('a stale client writes the moved rows without an error (maxRetries 0), and the old owner copy is dropped by the first GC pass whose safe point passes the switch', async () => {
    await stale.update(gadgets).set({ label: 'renamed-1' }).where(eq(gadgets.id, 1));
    expect(await db.select().from(gadgets).where(eq(gadgets.id, 1))).toMatchObject([{ label: 'renamed-1' }]);
    const rowSlots = slotsOn(db.placement, 1, slotsOfRows(gadgetsMeta, 'id', [1, 2, 4, 5]));
    expect((await slotRowsPerShard(cluster.shardUrls, 'gadgets__versions', rowSlots))[0]).toBeGreaterThan(0);
    expect(await finishMoves(db.placement)).toBe(0);
    const gcDb = await percolator({ oracle: [cluster.oracleAddress], schema, gc: { lifetimeMs: 0 } });
    try {
      await gcDb.collectGarbage({ force: true });
    } finally {
      await gcDb.close();
    }
    // That pass finished the move (finishMoves runs after each GC pass).
    expect(await finishMoves(db.placement)).toBe(0);
    expect((await slotRowsPerShard(cluster.shardUrls, 'gadgets__versions', rowSlots))[0]).toBe(0);
    expect((await slotRowsPerShard(cluster.shardUrls, 'gadgets__latest', rowSlots))[0]).toBe(0);
  });

  it('a transaction prewritten before the freeze and committed after it: the move waits for its lock and its commit arrives on the new owner', async () => {
    const oracle = createOracleClient({ addresses: [cluster.oracleAddress] });
    const pause = pausePoint();
    const engine = createTransactionEngine({ shards: [], placement: { map: db.placement.map, source: oracle }, timestampSource: oracle, registry: new Registry(), gc: false, hooks: { afterPrewriteAll: pause.hook } });
    try {
      engine.register([gadgetsMeta]);
      const id = 20;
      const slot = slotOf(gadgetsMeta, { id });
      await db.placement.refresh();
      const from = db.placement.map.shardOfSlot(slot);
      const tx = await engine.begin();
      tx.put(gadgetsMeta, [gadget(id, 7)]);
      const committing = tx.commit();
      await pause.reached; // locked on the source, not committed
      const steps: string[] = [];
      await moveSlots(db.slotMoves, { from, to: (from + 1) % 3, slots: [slot] }, {
        atStep: (step) => {
          steps.push(step);
          // The owner commits only once the slot is frozen: its lock must be resolved (waited for) before the last copy.
          if (step === 'frozen') setTimeout(pause.release, 2000);
        },
      });
      await committing;
      expect(steps).toContain('resolved');
      expect(await db.select().from(gadgets).where(eq(gadgets.id, id))).toMatchObject([{ id, price: '20.07' }]);
    } finally {
      pause.release();
      await engine.close();
      oracle.close();
    }
  });

  it('a client started during a move reads while the slots are frozen, and its write waits for the switch and lands on the new owner', async () => {
    const ids = [10, 11, 12, 13];
    const slots = slotsOn(db.placement, 1, slotsOfRows(gadgetsMeta, 'id', ids));
    expect(slots.length).toBeGreaterThan(0);
    const id = ids.find((i) => slots.includes(slotsOfRows(gadgetsMeta, 'id', [i])[0]!))!;
    const pause = pausePoint();
    const moving = moveSlots(db.slotMoves, { from: 1, to: 2, slots }, { atStep: (step) => (step === 'frozen' ? pause.hook() : undefined) });
    await pause.reached;
    const late = await percolator({ oracle: [cluster.oracleAddress], schema, maxRetries: 0, gc: false });
    try {
      expect(await late.select().from(gadgets).where(eq(gadgets.id, id))).toHaveLength(1);
      let attempts = 0;
      const write = late.transaction(async (tx) => {
        attempts++;
        await tx.update(gadgets).set({ label: `late-${id}` }).where(eq(gadgets.id, id));
      });
      await new Promise((r) => setTimeout(r, 200));
      pause.release();
      await moving;
      await write;
      expect(attempts).toBeGreaterThan(1);
      expect(await db.select().from(gadgets).where(eq(gadgets.id, id))).toMatchObject([{ label: `late-${id}` }]);
      const latest = await queryOnShards<{ n: string }>(cluster.shardUrls, `select count(*) as n from gadgets__latest where id = ${id} and label = 'late-${id}'`);
      expect(latest.map((r) => Number(r[0]!.n))).toEqual([0, 0, 1]);
    } finally {
      await late.close();
    }
    await expectOneOwnerEach(cluster.shardUrls, db.placement, slots);
  });
});
