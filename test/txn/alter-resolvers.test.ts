import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { describeTable, type TableMeta } from '../../src/schema/table-meta.js';
import type { CommitHooks } from '../../src/txn/commit-hooks.js';
import type { TransactionEngine } from '../../src/txn/engine-contract.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import { useEngines } from '../support/engine-fixture.js';
import { pausePoint } from '../support/pause-point.js';
import { queryOnShards } from '../support/raw-shards.js';

// Statements that copy lock rows into versions and latest rows name their
// columns. A client that declares a table without a column added since must
// copy that column too when it rolls forward a newer client's lock, or
// commits its own transaction prewritten before the change.

const widgetsV1 = describeTable(pgTable('widgets', { id: integer().primaryKey(), name: text() }));
const widgetsV2 = describeTable(pgTable('widgets', { id: integer().primaryKey(), name: text(), color: text() }));
const gadgetsV1 = describeTable(pgTable('gadgets', { id: integer().primaryKey(), name: text() }));
const boltsV1 = describeTable(pgTable('bolts', { id: integer().primaryKey(), name: text(), memo: text() }));
const boltsV2 = describeTable(pgTable('bolts', { id: integer().primaryKey(), name: text() }));
const nutsV1 = describeTable(pgTable('nuts', { id: integer().primaryKey(), name: text(), memo: text() }));
const nutsV2 = describeTable(pgTable('nuts', { id: integer().primaryKey(), name: text() }));
const washers = describeTable(pgTable('washers', { id: integer().primaryKey(), name: text() }));
const gadgetsV2 = describeTable(pgTable('gadgets', { id: integer().primaryKey(), name: text(), size: integer().notNull().default(5) }));

/** Two ids of `meta` whose rows live on different shards. */
function idsOnTwoShards(engine: TransactionEngine, meta: TableMeta, from: number): [number, number] {
  const first = engine.shardOf(meta, { id: from });
  for (let id = from + 1; ; id++) if (engine.shardOf(meta, { id }) !== first) return [from, id];
}

describe('resolvers and commits of a client whose declaration is older than the stored columns', () => {
  const fixture = useEngines({ tables: [widgetsV1, gadgetsV1, boltsV1, nutsV1, washers], seed: false });

  function engineWith(tables: readonly TableMeta[], hooks?: CommitHooks): TransactionEngine {
    const engine = createTransactionEngine({ shards: fixture.cluster.shardUrls, timestampSource: fixture.tso, registry: new Registry(), gc: false, hooks });
    engine.register(tables);
    return engine;
  }

  it("an old client rolling forward a new client's lock keeps the added column's value", async () => {
    const old = fixture.engines[0]!;
    const pause = pausePoint();
    const upgraded = engineWith([widgetsV2], { afterCommitPrimary: pause.hook });
    try {
      await upgraded.migrate([widgetsV2]);
      const [a, b] = idsOnTwoShards(upgraded, widgetsV2, 1);
      const tx = await upgraded.begin();
      tx.put(widgetsV2, [
        { id: a, name: 'a', color: 'red' },
        { id: b, name: 'b', color: 'blue' },
      ]);
      const committing = tx.commit();
      await pause.reached; // the primary is committed, the secondary still a lock
      // The old client reads both keys: it meets the secondary's lock and rolls it forward.
      const seen = await (await old.begin()).getMany(widgetsV1, [[a], [b]]);
      expect(seen.map((r) => r.name).sort()).toEqual(['a', 'b']);
      const stored = await queryOnShards<{ id: number; v: string | null; l: string | null }>(
        fixture.cluster.shardUrls,
        `select v.id, v.color as v, l.color as l from widgets__versions v join widgets__latest l using (id) where v.op = 'put'`,
      );
      expect(stored.flat().sort((x, y) => x.id - y.id)).toEqual([
        { id: a, v: 'red', l: 'red' },
        { id: b, v: 'blue', l: 'blue' },
      ]);
      pause.release();
      await committing;
      const read = await (await upgraded.begin()).getMany(widgetsV2, [[a], [b]]);
      expect(read.sort((x, y) => Number(x.id) - Number(y.id))).toEqual([
        { id: a, name: 'a', color: 'red' },
        { id: b, name: 'b', color: 'blue' },
      ]);
    } finally {
      pause.release();
      await upgraded.close();
    }
  });

  it('an old client commits its transaction prewritten before the column was added; its lock images read the default', async () => {
    const pause = pausePoint();
    const old = engineWith([gadgetsV1], { beforeCommitPrimary: pause.hook });
    const upgraded = engineWith([gadgetsV2]);
    try {
      await old.migrate([gadgetsV1]);
      const [c, d] = idsOnTwoShards(old, gadgetsV1, 1);
      const tx = await old.begin();
      tx.put(gadgetsV1, [
        { id: c, name: 'c' },
        { id: d, name: 'd' },
      ]);
      const committing = tx.commit();
      await pause.reached; // every key prewritten, nothing committed
      await upgraded.migrate([gadgetsV2], { fill: () => '5' });
      const locks = await queryOnShards<{ size: number }>(fixture.cluster.shardUrls, 'select size from gadgets__locks');
      expect(locks.flat()).toEqual([{ size: 5 }, { size: 5 }]);
      pause.release();
      await committing;
      const read = await (await upgraded.begin()).getMany(gadgetsV2, [[c], [d]]);
      expect(read.sort((x, y) => Number(x.id) - Number(y.id))).toEqual([
        { id: c, name: 'c', size: 5 },
        { id: d, name: 'd', size: 5 },
      ]);
    } finally {
      pause.release();
      await Promise.all([old.close(), upgraded.close()]);
    }
  });

  it('an old client commits its transaction prewritten before a column was dropped (its statements cannot name the column any more)', async () => {
    const pause = pausePoint();
    const old = engineWith([boltsV1], { beforeCommitPrimary: pause.hook });
    const upgraded = engineWith([boltsV2]);
    try {
      const [c, d] = idsOnTwoShards(old, boltsV1, 1);
      const tx = await old.begin();
      tx.put(boltsV1, [
        { id: c, name: 'c', memo: 'm' },
        { id: d, name: 'd', memo: 'm' },
      ]);
      const committing = tx.commit();
      await pause.reached;
      await upgraded.migrate([boltsV2]);
      pause.release();
      await committing;
      const read = await (await upgraded.begin()).getMany(boltsV2, [[c], [d]]);
      expect(read.sort((x, y) => Number(x.id) - Number(y.id))).toEqual([
        { id: c, name: 'c' },
        { id: d, name: 'd' },
      ]);
    } finally {
      pause.release();
      await Promise.all([old.close(), upgraded.close()]);
    }
  });

  it('an old client commits two tables of one shard in one statement after a column of one was dropped', async () => {
    const pause = pausePoint();
    const old = engineWith([nutsV1, washers], { beforeCommitPrimary: pause.hook });
    const upgraded = engineWith([nutsV2, washers]);
    try {
      // Both keys on one shard: the commit is one statement over both tables.
      const shard = old.shardOf(nutsV1, { id: 1 });
      let w = 1;
      while (old.shardOf(washers, { id: w }) !== shard) w++;
      const tx = await old.begin();
      tx.put(nutsV1, [{ id: 1, name: 'n', memo: 'm' }]);
      tx.put(washers, [{ id: w, name: 'w' }]);
      const committing = tx.commit();
      await pause.reached;
      await upgraded.migrate([nutsV2, washers]);
      pause.release();
      await committing;
      const reader = await upgraded.begin();
      expect(await reader.getMany(nutsV2, [[1]])).toEqual([{ id: 1, name: 'n' }]);
      expect(await reader.getMany(washers, [[w]])).toEqual([{ id: w, name: 'w' }]);
    } finally {
      pause.release();
      await Promise.all([old.close(), upgraded.close()]);
    }
  });
});
