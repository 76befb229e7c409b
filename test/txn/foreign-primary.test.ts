import { setTimeout as sleep } from 'node:timers/promises';
import { integer, pgTable, primaryKey, text, varchar } from 'drizzle-orm/pg-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { SchemaError } from '../../src/errors.js';
import { describeTable } from '../../src/schema/table-meta.js';
import { physicalMs } from '../../src/timestamp.js';
import type { CommitHooks } from '../../src/txn/commit-hooks.js';
import type { EngineTransaction, TransactionEngine } from '../../src/txn/engine-contract.js';
import { withRetries } from '../support/bank.js';
import pg from 'pg';
import { countOnShards } from '../support/raw-shards.js';
import { useBankEngines } from '../support/engine-fixture.js';
import { slotOf } from '../../src/shard/shard-of.js';

// Two tables, each with a shard key shorter than its primary key: a resolver
// that placed a primary by its whole key would look on the wrong shard.
const parents = pgTable('fp_parents', { region: integer('region').notNull(), id: integer('id').notNull(), note: text('note') }, (t) => [
  primaryKey({ columns: [t.region, t.id] }),
]);
const sides = pgTable('fp_sides', { parentId: integer('parent_id').notNull(), tag: varchar('tag', { length: 16 }).notNull(), note: text('note') }, (t) => [
  primaryKey({ columns: [t.parentId, t.tag] }),
]);
const parentsMeta = describeTable(parents, { shardKey: ['region'] });
const sidesMeta = describeTable(sides, { shardKey: ['parentId'] });

/** The `n` column of every row of `sql` on one shard. */
async function rawRows(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query<{ n: unknown }>(sql)).rows.map((r) => r.n);
  } finally {
    await client.end();
  }
}

/**
 * Clients with different schemas on the same shards: a transaction's primary
 * lives in a table that some client does not know. Its locks are decided
 * from the shards' table catalogue, by readers and by version GC.
 */
describe('locks whose primary table a client does not know', () => {
  // Timers off: GC runs are explicit (collectGarbage), with lifetime 0.
  const bank = useBankEngines(2, { gc: { lifetimeMs: 0, intervalMs: 3_600_000 } });
  let wide: TransactionEngine;
  beforeAll(async () => {
    wide = bank.engine();
    await wide.migrate([parentsMeta, sidesMeta]);
  });
  const narrow = (metas: typeof parentsMeta[]): TransactionEngine => {
    const e = bank.engine();
    e.register(metas);
    return e;
  };
  // A parent and a side row on different shards, not used by another test.
  let next = 0;
  const pickKeys = (): { parent: { region: number; id: number }; side: { parentId: number; tag: string } } => {
    for (;;) {
      const n = ++next;
      const parent = { region: n, id: 7 };
      const side = { parentId: 1000 + n, tag: `t${n}` };
      if (wide.shardOf(parentsMeta, parent) !== wide.shardOf(sidesMeta, side)) return { parent, side };
    }
  };
  const readSide = async (e: TransactionEngine, side: { parentId: number; tag: string }): Promise<unknown> => {
    const tx = await e.begin();
    return (await tx.getMany(sidesMeta, [[side.parentId, side.tag]]))[0]?.note;
  };
  const sideLocks = async (startTs: bigint): Promise<number> =>
    (await countOnShards(bank.cluster.shardUrls, `select count(*) as n from fp_sides__locks where start_ts = ${startTs} and primary_table = 'fp_parents'`)).reduce((a, b) => a + b, 0);
  const passPhysicalMsOf = async (ts: bigint): Promise<void> => {
    while (physicalMs(await bank.tso.getTimestamp()) <= physicalMs(ts)) await sleep(1);
  };
  /** A transaction writing the parent (its primary) and the side row, whose client dies right after the commit point. */
  const commitAndCrash = async (keys: ReturnType<typeof pickKeys>): Promise<EngineTransaction> => {
    const crashing = bank.engine({ lockTtlMs: 200, hooks: { afterCommitPrimary: () => Promise.reject(new Error('crashed after the commit point')) } });
    crashing.register([parentsMeta, sidesMeta]);
    const tx = await crashing.begin();
    tx.put(parentsMeta, [{ ...keys.parent, note: 'committed' }]);
    tx.put(sidesMeta, [{ ...keys.side, note: 'committed' }]);
    const failure = await tx.commit().then(() => undefined, (error: unknown) => error);
    expect(String(failure)).toContain('crashed after the commit point');
    // The side row's lock is left behind and names the parent as its primary.
    expect(await sideLocks(tx.startTs)).toBe(1);
    return tx;
  };

  it('GC by a client that knows only the primary\'s table keeps the commit: a wider client reads it', async () => {
    const keys = pickKeys();
    const tx = await commitAndCrash(keys);
    // The parent is overwritten, so GC may delete the version that proves the commit.
    const parentsOnly = narrow([parentsMeta]);
    const overwrite = await withRetries(async () => {
      const t = await parentsOnly.begin();
      t.put(parentsMeta, [{ ...keys.parent, note: 'overwritten' }]);
      return (await t.commit()).commitTs!;
    });
    await passPhysicalMsOf(overwrite);
    const run = await parentsOnly.collectGarbage({ force: true });
    expect(run.shards.every((s) => s.safePoint > tx.startTs)).toBe(true);
    // The proof is gone (superseded); the side row was rolled forward before.
    const proofs = await countOnShards(bank.cluster.shardUrls, `select count(*) as n from fp_parents__versions where start_ts = ${tx.startTs}`);
    expect(proofs).toEqual([0, 0]);
    await sleep(300); // past the lock's TTL: a reader decides it by its primary alone
    expect(await readSide(wide, keys.side)).toBe('committed');
    expect(await sideLocks(tx.startTs)).toBe(0);
  });

  it('a read by a client that does not know the primary\'s table rolls a committed transaction forward', async () => {
    const keys = pickKeys();
    await commitAndCrash(keys);
    expect(await readSide(narrow([sidesMeta]), keys.side)).toBe('committed');
  });

  it('a read by a client that does not know the primary\'s table rolls a dead transaction back', async () => {
    const keys = pickKeys();
    const sidesOnly = narrow([sidesMeta]);
    const before = await wide.begin();
    before.put(sidesMeta, [{ ...keys.side, note: 'before' }]);
    await before.commit();
    // The client stops after its prewrites (no heartbeat): its locks expire.
    let die!: (error: Error) => void;
    const stuck = new Promise<void>((_, reject) => (die = reject));
    const hooks: CommitHooks = { afterPrewriteAll: () => stuck };
    const dying = bank.engine({ lockTtlMs: 200, heartbeat: false, hooks });
    dying.register([parentsMeta, sidesMeta]);
    const tx = await dying.begin();
    tx.put(parentsMeta, [{ ...keys.parent, note: 'dead' }]);
    tx.put(sidesMeta, [{ ...keys.side, note: 'dead' }]);
    const commit = tx.commit().then(() => undefined, (error: unknown) => error);
    while ((await sideLocks(tx.startTs)) === 0) await sleep(5);
    await sleep(300);
    expect(await readSide(sidesOnly, keys.side)).toBe('before');
    expect(await sideLocks(tx.startTs)).toBe(0);
    // The primary got its rollback marker, so the dead client can never commit.
    const markers = await countOnShards(bank.cluster.shardUrls, `select count(*) as n from fp_parents__versions where start_ts = ${tx.startTs} and op = 'rollback'`);
    expect(markers.reduce((a, b) => a + b, 0)).toBe(1);
    die(new Error('client died'));
    expect(String(await commit)).toContain('client died');
  });

  it('GC by a client that does not know the primary\'s table resolves the lock and proceeds', async () => {
    const keys = pickKeys();
    const tx = await commitAndCrash(keys);
    const sidesOnly = narrow([sidesMeta]);
    const run = await sidesOnly.collectGarbage({ force: true });
    expect(run.shards.every((s) => s.deleted !== undefined && s.safePoint > tx.startTs)).toBe(true);
    expect(await sideLocks(tx.startTs)).toBe(0);
    expect(await readSide(sidesOnly, keys.side)).toBe('committed');
  });

  it('fills the catalogue of tables stored before it from their storage, and each table\'s migration completes its row', async () => {
    for (const url of bank.cluster.shardUrls) {
      await rawRows(url, `delete from percolator_migrations where name in ('core/0003-table-catalogue', 'table/fp_sides/0008-table-catalogue', 'table/fp_sides/0009-slot-column')`);
      await rawRows(url, `delete from percolator_tables where name = 'fp_sides'`);
      // A table stored before the catalogue was stored before the slot column too.
      for (const table of ['fp_sides__versions', 'fp_sides__locks', 'fp_sides__latest']) await rawRows(url, `alter table ${table} drop column slot`);
    }
    const row = `select key_columns::text || key_types::text || coalesce(shard_key_length::text, '?') || value_columns::text || value_types::text as n from percolator_tables where name = 'fp_sides'`;
    const rows = async () => Promise.all(bank.cluster.shardUrls.map(async (url) => (await rawRows(url, row))[0]));
    await bank.engine().migrate([parentsMeta]);
    expect(await rows()).toEqual(Array(2).fill('{parent_id,tag}{integer,"character varying(16)"}?{note}{text}'));
    await wide.migrate([sidesMeta]);
    expect(await rows()).toEqual(Array(2).fill('{parent_id,tag}{integer,varchar(16)}1{note}{text}'));
  });

  it('collects nothing while a shard stores a locks table its catalogue does not list (its locks would be invisible to GC)', async () => {
    const keys = pickKeys();
    const parentsOnly = narrow([parentsMeta]);
    for (const note of ['old', 'new']) {
      const t = await parentsOnly.begin();
      t.put(parentsMeta, [{ ...keys.parent, note }]);
      await passPhysicalMsOf((await t.commit()).commitTs!);
    }
    // As if an older client had created fp_sides after the catalogue's backfill.
    for (const url of bank.cluster.shardUrls) {
      await rawRows(url, `delete from percolator_migrations where name = 'table/fp_sides/0008-table-catalogue'`);
      await rawRows(url, `delete from percolator_tables where name = 'fp_sides'`);
    }
    const refused = await parentsOnly.collectGarbage({ force: true }).then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(SchemaError);
    expect((refused as Error).message).toMatch(/fp_sides__locks/);
    const parentShard = wide.shardOf(parentsMeta, keys.parent);
    const versions = `select note as n from fp_parents__versions where region = ${keys.parent.region} and id = ${keys.parent.id} order by commit_ts`;
    expect(await rawRows(bank.cluster.shardUrls[parentShard]!, versions)).toEqual(['old', 'new']);

    await wide.migrate([sidesMeta]); // catalogues it again
    await parentsOnly.collectGarbage({ force: true });
    expect(await rawRows(bank.cluster.shardUrls[parentShard]!, versions)).toEqual(['new']);
  });

  it('never deletes what could decide a lock whose primary table no shard catalogues: the safe point stays below it', async () => {
    const keys = pickKeys();
    const lockTs = await bank.tso.getTimestamp();
    const sideShard = wide.shardOf(sidesMeta, keys.side);
    await rawRows(bank.cluster.shardUrls[sideShard]!, `insert into fp_sides__locks (parent_id, tag, start_ts, op, primary_table, primary_key, ttl_ms, note, slot)
      values (${keys.side.parentId}, '${keys.side.tag}', ${lockTs}, 'put', 'fp_nowhere', '{1}', 0, 'orphan', ${slotOf(sidesMeta, keys.side)})`);
    const parentsOnly = narrow([parentsMeta]);
    for (const note of ['first', 'second']) {
      const t = await parentsOnly.begin();
      t.put(parentsMeta, [{ ...keys.parent, note }]);
      await passPhysicalMsOf((await t.commit()).commitTs!);
    }
    const run = await parentsOnly.collectGarbage({ force: true });
    expect(run.shards.every((s) => s.deleted !== undefined && s.safePoint < lockTs)).toBe(true);
    const parentShard = wide.shardOf(parentsMeta, keys.parent);
    const notes = await rawRows(bank.cluster.shardUrls[parentShard]!, `select note as n from fp_parents__versions where region = ${keys.parent.region} and id = ${keys.parent.id} order by commit_ts`);
    expect(notes).toEqual(['first', 'second']);
    await rawRows(bank.cluster.shardUrls[sideShard]!, `delete from fp_sides__locks where start_ts = ${lockTs}`);
  });
});
