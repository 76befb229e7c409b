import { integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { describeTable } from '../../src/schema/table-meta.js';
import { commitTables } from '../../src/shard/commit-statements.js';
import type { KeyTexts } from '../../src/shard/key-text.js';
import { prewriteTables, type PieceConflictRow, type PrewriteEntry } from '../../src/shard/prewrite-statements.js';
import { TableStorage } from '../../src/shard/table-storage.js';
import { useStorageServer } from '../support/storage-server.js';

/**
 * Prewrite and commit of several tables in one statement (prewriteTables,
 * commitTables), prepared with generic plans as the engine runs them: a
 * one-column key and a composite one side by side; conflicts reported per
 * table; a guarded transaction's keys in every table commit only with its
 * primary, which lives in one of them.
 */
const a = pgTable('mt_a', { id: integer('id').primaryKey(), v: text('v') });
const b = pgTable('mt_b', { k: text('k').notNull(), n: integer('n').notNull(), v: text('v') }, (t) => [primaryKey({ columns: [t.k, t.n] })]);
const aMeta = describeTable(a);
const bMeta = describeTable(b);
const A = new TableStorage(aMeta);
const B = new TableStorage(bMeta);
const aKey = (n: number): KeyTexts => [String(n)];
const bKey = (n: number): KeyTexts => [`k${n}`, String(n)];

describe('statements over several tables of one shard', () => {
  const db = useStorageServer([aMeta, bMeta]);
  let ts = 1_000_000n;
  const next = (): bigint => (ts += 100n);
  const entry = (startTs: bigint, keys: KeyTexts[], primary: KeyTexts, insert = false): PrewriteEntry => ({
    startTs,
    primaryTable: aMeta.name,
    primaryKey: primary,
    ttlMs: 60_000,
    rows: keys.map((keyTexts) => ({ keyTexts, op: 'put' as const, isInsert: insert, slot: 0, valueTexts: [`v@${startTs}`] })),
  });
  const prewrite = async (pieces: { table: TableStorage; entries: PrewriteEntry[] }[]) => (await db.run<PieceConflictRow>(prewriteTables(pieces))).rows;
  const count = async (sql: string): Promise<number> => Number((await db.client().query<{ n: string }>(sql)).rows[0]!.n);

  it('prewrites two tables in one statement and commits them with the primary; conflicts name their table and row', async () => {
    const s = next();
    const t = next();
    // s writes a1, a2 and b1; t writes a3 and b2: one statement, two transactions, two tables.
    const conflicts = await prewrite([
      { table: A, entries: [entry(s, [aKey(1), aKey(2)], aKey(1)), entry(t, [aKey(3)], aKey(3))] },
      { table: B, entries: [entry(s, [bKey(1)], aKey(1)), entry(t, [bKey(2)], aKey(3))] },
    ]);
    expect(conflicts).toEqual([]);
    expect(await count(`select count(*) as n from ${A.locks}`)).toBe(3);
    expect(await count(`select count(*) as n from ${B.locks}`)).toBe(2);

    // u conflicts on b2 (t's lock) only: reported with its piece and row, and u loses its locks of that table.
    const u = next();
    const found = await prewrite([
      { table: A, entries: [entry(u, [aKey(4)], aKey(4))] },
      { table: B, entries: [entry(u, [bKey(5), bKey(2)], aKey(4))] },
    ]);
    expect(found.filter((r) => r.kind === 'locked').map((r) => [r.piece, r.i, r.ts])).toEqual([[1, 1, String(t)]]);
    expect(found.every((r) => r.piece === 1 && r.i === 1)).toBe(true);
    expect(await count(`select count(*) as n from ${B.locks} where start_ts = ${u}`)).toBe(0);
    await db.client().query(`delete from ${A.locks} where start_ts = ${u}`);

    // s commits guarded (its primary a1 in A, its key in B follows); t's primary lock is gone: nothing of t commits, in either table.
    await db.client().query(`delete from ${A.locks} where start_ts = ${t} and id = 3`);
    const committed = await db.run<{ start_ts: string; written: number }>(
      commitTables([
        { table: A, entries: [{ startTs: s, commitTs: s + 1n, keys: [aKey(1), aKey(2)], guarded: true }, { startTs: t, commitTs: t + 1n, keys: [aKey(3)], guarded: true }] },
        { table: B, entries: [{ startTs: s, commitTs: s + 1n, keys: [bKey(1)], guarded: true, holdsPrimary: false }, { startTs: t, commitTs: t + 1n, keys: [bKey(2)], guarded: true, holdsPrimary: false }] },
      ]),
    );
    expect(committed.rows).toEqual([{ start_ts: String(s), written: 3 }]);
    expect(await count(`select count(*) as n from ${B.versions} where start_ts = ${s}`)).toBe(1);
    expect(await count(`select count(*) as n from ${B.latest} where k = 'k1'`)).toBe(1);
    expect(await count(`select count(*) as n from ${B.versions} where start_ts = ${t}`)).toBe(0);
    expect(await count(`select count(*) as n from ${B.locks} where start_ts = ${t}`)).toBe(1);

    // Unguarded (secondaries): t's b2 commits on its own.
    const secondaries = await db.run<{ start_ts: string; written: number }>(
      commitTables([
        { table: A, entries: [] },
        { table: B, entries: [{ startTs: t, commitTs: t + 1n, keys: [bKey(2)], guarded: false }] },
      ]),
    );
    expect(secondaries.rows).toEqual([{ start_ts: String(t), written: 1 }]);
    expect(await count(`select count(*) as n from ${A.locks}`)).toBe(0);
    expect(await count(`select count(*) as n from ${B.locks}`)).toBe(0);
  });

  it('one slot fence covers every table of the statement: a row of a slot the shard does not own refuses it all', async () => {
    const s = next();
    await db.client().query('update percolator_owned_slots set frozen = true where slot = 7');
    const inSlot = (e: PrewriteEntry, slot: number): PrewriteEntry => ({ ...e, rows: e.rows.map((r) => ({ ...r, slot })) });
    const refused = await prewrite([
      { table: A, entries: [entry(s, [aKey(20)], aKey(20))] },
      { table: B, entries: [inSlot(entry(s, [bKey(20)], aKey(20)), 7)] },
    ]).catch((error: unknown) => error as { code?: string });
    expect(refused).toMatchObject({ code: 'PCSL1' });
    expect(await count(`select count(*) as n from ${A.locks}`)).toBe(0);
    await db.client().query('update percolator_owned_slots set frozen = false where slot = 7');
  });
});
