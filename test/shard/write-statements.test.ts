import { integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { describeTable } from '../../src/schema/table-meta.js';
import { useStorageServer } from '../support/storage-server.js';
import { prepareValue } from '../../src/shard/driver-values.js';
import { TableStorage } from '../../src/shard/table-storage.js';
import type { SharedCommitEntry } from '../../src/shard/commit-statements.js';
import type { KeyTexts } from '../../src/shard/key-text.js';
import type { PrewriteConflictRow } from '../../src/shard/prewrite-statements.js';
import { slotOfKey } from '../../src/shard/shard-of.js';

/**
 * The write path's statements (prewrite function, commits, rollback, push,
 * peeks) run directly against one Postgres, as the engine runs them:
 * prepared, with generic plans. Each outcome of the prewrite check, for a
 * one-column key and a composite one (their statements differ).
 */
const single = pgTable('w_single', { id: integer('id').primaryKey(), balance: integer('balance') });
// Its value column is named like a variable the prewrite function once had (a user column wins over a variable there).
const composite = pgTable('w_composite', { a: text('a').notNull(), b: integer('b').notNull(), v: text('conflicting') }, (t) => [primaryKey({ columns: [t.a, t.b] })]);

describe.each([
  { name: 'one-column key', table: single, key: (n: number): KeyTexts => [String(n)], value: (n: number) => [String(n)] },
  { name: 'composite key', table: composite, key: (n: number): KeyTexts => [`k${n}`, String(n)], value: (n: number) => [`v${n}`] },
])('write statements, $name', ({ table, key, value }) => {
  const meta = describeTable(table);
  const storage = new TableStorage(meta);
  const db = useStorageServer(meta);
  const run = db.run;
  let ts = 1_000_000n;
  const next = (): bigint => (ts += 100n);
  const prewrite = (startTs: bigint, keys: number[], options: { op?: 'put' | 'del'; insert?: boolean; primary?: number } = {}) =>
    run<PrewriteConflictRow>(
      storage.prewrite(
        startTs,
        meta.name,
        key(options.primary ?? keys[0]!),
        60_000,
        keys.map((n) => ({ keyTexts: key(n), op: options.op ?? 'put', isInsert: options.insert ?? false, slot: 0, valueTexts: options.op === 'del' ? [] : value(n) })),
      ),
    ).then((r) => r.rows);
  const locks = async (): Promise<{ start_ts: string; op: string; for_update: boolean; min_commit_ts: string }[]> =>
    (await db.client().query(`select start_ts::text, op, for_update, min_commit_ts::text from ${storage.locks} order by start_ts, op desc`)).rows;
  const versionsOf = async (startTs: bigint): Promise<{ commit_ts: string; op: string }[]> =>
    (await db.client().query(`select commit_ts::text, op from ${storage.versions} where start_ts = $1 order by commit_ts`, [startTs.toString()])).rows;
  const commit = async (startTs: bigint, commitTs: bigint, keys: number[]): Promise<number> =>
    (await run(storage.commitKeys(startTs, commitTs, keys.map(key)))).rowCount ?? 0;
  const commitShared = async (entries: SharedCommitEntry[]): Promise<{ start_ts: string; written: number }[]> =>
    (await run<{ start_ts: string; written: number }>(storage.commitShared(entries))).rows;


  it('prewrites and commits keys; a commit below min_commit_ts moves nothing', async () => {
    const s = next();
    expect(await prewrite(s, [1, 2])).toEqual([]);
    expect((await locks()).map((l) => l.start_ts)).toEqual([String(s), String(s)]);
    await db.client().query(`update ${storage.locks} set min_commit_ts = $1`, [String(s + 50n)]);
    expect(await commit(s, s + 10n, [1, 2])).toBe(0);
    expect(await commit(s, s + 60n, [1])).toBe(1);
    expect(await commit(s, s + 60n, [2])).toBe(1);
    expect(await commit(s, s + 60n, [1, 2])).toBe(0); // replay: nothing left to move
    expect(await locks()).toEqual([]);
    expect(await versionsOf(s)).toEqual([{ commit_ts: String(s + 60n), op: 'put' }, { commit_ts: String(s + 60n), op: 'put' }]);
  });

  it('commits a single-shard batch guarded by its primary, or nothing once the primary lock is gone', async () => {
    const s = next();
    expect(await prewrite(s, [3, 4, 5])).toEqual([]);
    expect(await commitShared([{ startTs: s, commitTs: s + 1n, keys: [3, 4, 5].map(key), guarded: true }])).toEqual([{ start_ts: String(s), written: 3 }]);
    const t = next();
    expect(await prewrite(t, [3, 4])).toEqual([]);
    await run(storage.deleteLock(t, key(3)));
    expect(await commitShared([{ startTs: t, commitTs: t + 1n, keys: [3, 4].map(key), guarded: true }])).toEqual([]);
    expect((await locks()).map((l) => l.start_ts)).toEqual([String(t)]);
    await run(storage.rollbackKeys(t, [key(4)], [false]));
    expect(await locks()).toEqual([]);
  });

  it('prewrites and commits several transactions in one statement each: a conflict or a missing primary is its own transaction`s', async () => {
    const [a, b, c, d] = [next(), next(), next(), next()];
    const later = next();
    expect(await prewrite(later, [32])).toEqual([]);
    await commit(later, later + 1n, [32]);
    const entry = (startTs: bigint, keys: number[]) => ({
      startTs,
      primaryTable: meta.name,
      primaryKey: key(keys[0]!),
      ttlMs: 60_000,
      rows: keys.map((n) => ({ keyTexts: key(n), op: 'put' as const, isInsert: false, slot: 0, valueTexts: value(n) })),
    });
    // b's second key has a version above its start_ts: only b is refused, and only b's locks go.
    const conflicts = (await run<PrewriteConflictRow>(storage.prewriteShared([entry(a, [30, 31]), entry(b, [33, 32]), entry(c, [34]), entry(d, [35, 36])]))).rows;
    expect(conflicts).toEqual([expect.objectContaining({ i: 3, kind: 'version', ts: String(later + 1n) })]);
    expect((await locks()).map((l) => l.start_ts)).toEqual([a, a, c, d, d].map(String));
    // d's primary lock is gone (rolled back by a resolver, say): d commits nothing, a (guarded) and c (a secondary) commit.
    await run(storage.deleteLock(d, key(35)));
    const committed = await commitShared([
      { startTs: a, commitTs: a + 50n, keys: [30, 31].map(key), guarded: true },
      { startTs: c, commitTs: c + 50n, keys: [key(34)], guarded: false },
      { startTs: d, commitTs: d + 50n, keys: [35, 36].map(key), guarded: true },
    ]);
    expect(committed.sort((x, y) => x.start_ts.localeCompare(y.start_ts))).toEqual([
      { start_ts: String(a), written: 2 },
      { start_ts: String(c), written: 1 },
    ]);
    expect(await versionsOf(a)).toEqual([{ commit_ts: String(a + 50n), op: 'put' }, { commit_ts: String(a + 50n), op: 'put' }]);
    expect((await locks()).map((l) => l.start_ts)).toEqual([String(d)]);
    await run(storage.rollbackKeys(d, [key(36)], [false]));
  });

  it('commits a large transaction probing its keys, not every lock of its start_ts once per key', async () => {
    const s = next();
    const keys = Array.from({ length: 2000 }, (_, i) => key(100_000 + i));
    const rows = keys.map((k, i) => ({ keyTexts: k, op: 'put' as const, isInsert: false, slot: 0, valueTexts: value(i) }));
    expect((await run<PrewriteConflictRow>(storage.prewriteShared([{ startTs: s, primaryTable: meta.name, primaryKey: keys[0]!, ttlMs: 60_000, rows }]))).rows).toEqual([]);
    // Statistics as under many small transactions: start_ts looks selective.
    const others = storage.prewriteShared(
      Array.from({ length: 3000 }, (_, i) => ({ startTs: s + 1n + BigInt(i), primaryTable: meta.name, primaryKey: key(200_000 + i), ttlMs: 60_000, rows: [{ keyTexts: key(200_000 + i), op: 'put' as const, isInsert: false, slot: 0, valueTexts: value(i) }] })),
    );
    expect((await run<PrewriteConflictRow>(others)).rows).toEqual([]);
    await db.client().query(`analyze ${storage.locks}`);
    await db.client().query(`delete from ${storage.locks} where start_ts <> $1`, [String(s)]);
    const statement = storage.commitShared([{ startTs: s, commitTs: s + 1n, keys, guarded: true }]);
    await db.client().query(`prepare big_commit (${statement.values.map(() => 'text[]').join(', ')}) as ${statement.text}`);
    const literal = (v: unknown) => `'${String(prepareValue(v)).replaceAll("'", "''")}'::text[]`;
    const plan = (await db.client().query(`explain (costs off) execute big_commit(${statement.values.map(literal).join(', ')})`)).rows.map((r) => r['QUERY PLAN']).join('\n');
    await db.client().query('deallocate big_commit');
    expect(plan).not.toContain(`${meta.locksTable}_start_ts`);
    expect(await commitShared([{ startTs: s, commitTs: s + 1n, keys, guarded: true }])).toEqual([{ start_ts: String(s), written: 2000 }]);
    expect(await locks()).toEqual([]);
  });

  it('finds a newer version: conflict, and none of our locks stays', async () => {
    const s = next();
    const later = next();
    expect(await prewrite(later, [6])).toEqual([]);
    await commit(later, later + 1n, [6]);
    const rows = await prewrite(s, [7, 6]);
    expect(rows).toEqual([expect.objectContaining({ i: 1, kind: 'version', ts: String(later + 1n), op: 'put' })]);
    expect(await locks()).toEqual([]);
  });

  it('finds its own rollback marker, and another transaction`s lock (left alone)', async () => {
    const s = next();
    await run(storage.rollbackKeys(s, [key(8)], [true]));
    expect(await prewrite(s, [9, 8])).toEqual([expect.objectContaining({ i: 1, kind: 'version', ts: String(s), op: 'rollback' })]);
    expect(await locks()).toEqual([]);

    const holder = next();
    const s2 = next();
    expect(await prewrite(holder, [10])).toEqual([]);
    // The insert skipped key 10 (the holder's lock): 'locked' comes first, then 'unlocked' for the same key.
    const rows = await prewrite(s2, [11, 10]);
    expect(rows).toEqual([
      expect.objectContaining({ i: 1, kind: 'locked', ts: String(holder), op: 'put', primary_table: meta.name, expired: false }),
      expect.objectContaining({ i: 1, kind: 'unlocked' }),
    ]);
    expect(rows[0]!.primary_key).toEqual([...key(10)]);
    expect((await locks()).map((l) => l.start_ts)).toEqual([String(holder)]);
    await run(storage.rollbackKeys(holder, [key(10)], [false]));
  });

  it('refuses an insert of a live row; an insert after a delete is fine', async () => {
    const s = next();
    expect(await prewrite(s, [12], { insert: true })).toEqual([]);
    await commit(s, s + 1n, [12]);
    const s2 = next();
    expect(await prewrite(s2, [13, 12], { insert: true })).toEqual([expect.objectContaining({ i: 1, kind: 'exists', op: 'put' })]);
    expect(await locks()).toEqual([]);
    const d = next();
    expect(await prewrite(d, [12], { op: 'del' })).toEqual([]);
    await commit(d, d + 1n, [12]);
    const s3 = next();
    expect(await prewrite(s3, [12], { insert: true })).toEqual([]);
    await run(storage.rollbackKeys(s3, [key(12)], [false]));
  });

  it('upgrades our pessimistic lock: only a version above for_update_ts conflicts', async () => {
    const s = next();
    const other = next(); // commits between our start_ts and our for_update_ts
    expect(await prewrite(other, [14, 15])).toEqual([]);
    await commit(other, other + 1n, [14, 15]);
    const forUpdateTs = next();
    const cols = storage.pk.map((c) => `"${c.name}"`).join(', ');
    for (const n of [14, 15]) {
      await db.client().query(
        `insert into ${storage.locks} (${cols}, start_ts, op, for_update, for_update_ts, primary_table, primary_key, ttl_ms, slot) values (${key(n).map((_, i) => `$${i + 4}`).join(', ')}, $1, 'lock', true, $2, '${meta.name}', $3, 60000, ${slotOfKey(meta, key(n))})`,
        [String(s), String(forUpdateTs), key(14), ...key(n)],
      );
    }
    expect(await prewrite(s, [14], { primary: 14 })).toEqual([]);
    expect(await locks()).toEqual([
      expect.objectContaining({ start_ts: String(s), op: 'put', for_update: false }),
      expect.objectContaining({ start_ts: String(s), op: 'lock', for_update: true }),
    ]);
    // A put above for_update_ts can only appear if our lock was lost: a conflict.
    await db.client().query(`update ${storage.locks} set for_update_ts = $1 where start_ts = $2 and for_update`, [String(other), String(s)]);
    expect(await prewrite(s, [15], { primary: 14 })).toEqual([expect.objectContaining({ i: 0, kind: 'version', ts: String(other + 1n) })]);
    await db.client().query(`delete from ${storage.locks}`);
  });

  it('a replayed prewrite of keys it already holds finds no conflict', async () => {
    const s = next();
    expect(await prewrite(s, [16, 17])).toEqual([]);
    expect(await prewrite(s, [16, 17])).toEqual([]);
    expect((await locks()).map((l) => l.start_ts)).toEqual([String(s), String(s)]);
    await run(storage.rollbackKeys(s, [key(16), key(17)], [true, false]));
    expect(await locks()).toEqual([]);
    expect(await versionsOf(s)).toEqual([{ commit_ts: String(s), op: 'rollback' }]);
  });

  it('pushes live primaries; tells committed, rolled-back and absent ones apart', async () => {
    const live = next();
    const committed = next();
    const rolledBack = next();
    const absent = next();
    expect(await prewrite(live, [20])).toEqual([]);
    expect(await prewrite(committed, [21])).toEqual([]);
    await commit(committed, committed + 5n, [21]);
    await run(storage.rollbackKeys(rolledBack, [key(22)], [true]));
    const readTs = next();
    const { rows } = await run<{ start_ts: string; pushed: boolean; commit_ts: string | null; version_op: string | null; locked: boolean }>(
      storage.pushPrimaries(readTs + 1n, [
        { startTs: live, key: key(20) },
        { startTs: committed, key: key(21) },
        { startTs: rolledBack, key: key(22) },
        { startTs: absent, key: key(23) },
      ]),
    );
    const byTs = new Map(rows.map((r) => [r.start_ts, r]));
    expect(byTs.get(String(live))).toMatchObject({ pushed: true });
    expect(byTs.get(String(committed))).toMatchObject({ pushed: false, commit_ts: String(committed + 5n), version_op: 'put', locked: false });
    expect(byTs.get(String(rolledBack))).toMatchObject({ pushed: false, commit_ts: String(rolledBack), version_op: 'rollback', locked: false });
    expect(byTs.get(String(absent))).toMatchObject({ pushed: false, commit_ts: null, version_op: null, locked: false });
    expect((await locks())[0]).toMatchObject({ start_ts: String(live), min_commit_ts: String(readTs + 1n) });
    expect((await run(storage.peekPrimary(committed, key(21)))).rows[0]).toMatchObject({ commit_ts: String(committed + 5n), version_op: 'put', locked: false });
    expect((await run(storage.peekPrimary(live, key(20)))).rows[0]).toMatchObject({ version_op: null, locked: true, expired: false });
    expect((await run(storage.versionByStartTs(rolledBack, key(22)))).rows).toEqual([{ commit_ts: String(rolledBack), op: 'rollback' }]);
    // commitPrimary of the pushed transaction below the push commits nothing.
    expect(await commit(live, readTs, [20])).toBe(0);
    expect(await commit(live, readTs + 1n, [20])).toBe(1);
  });
});
