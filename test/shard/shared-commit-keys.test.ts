import { char, integer, pgTable } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { describeTable } from '../../src/schema/table-meta.js';
import { useStorageServer } from '../support/storage-server.js';
import { TableStorage } from '../../src/shard/table-storage.js';
import type { KeyTexts } from '../../src/shard/key-text.js';
import type { PrewriteConflictRow } from '../../src/shard/prewrite-statements.js';

/**
 * commitShared with keys whose texts differ but whose values are equal
 * (char(n) ignores trailing blanks: 'ab' = 'ab '). Both pass the batcher's
 * distinct-text check. T1's late secondary commit of 'ab' (its lock already
 * rolled forward by a resolver) shares a statement with T2's guarded commit
 * of 'ab ' (its primary) and 'zz'. The old bug: finding each lock
 * row's entry by position over the typed keys gave T2's primary T1's
 * start_ts, so it stayed locked while 'zz' committed (half a transaction,
 * reported as written). Such key types take the join path.
 */
const t = pgTable('cb_char', { id: char('id', { length: 3 }).primaryKey(), v: integer('v') });

describe('commitShared with equal keys of different spellings', () => {
  const meta = describeTable(t);
  const storage = new TableStorage(meta);
  const db = useStorageServer(meta);
  const run = db.run;
  const prewrite = async (startTs: bigint, keys: KeyTexts[]) =>
    (await run<PrewriteConflictRow>(storage.prewrite(startTs, meta.name, keys[0]!, 60_000, keys.map((k) => ({ keyTexts: k, op: 'put' as const, isInsert: false, slot: 0, valueTexts: ['1'] }))))).rows;

  it('commits a guarded entry all or nothing when another entry has an equal key of another spelling', async () => {
    const t1 = 1000n;
    const t2 = 2000n;
    expect(await prewrite(t1, [['ab']])).toEqual([]);
    await run(storage.commitKeys(t1, t1 + 1n, [['ab']])); // a resolver rolled T1's secondary forward
    expect(await prewrite(t2, [['ab '], ['zz']])).toEqual([]);
    const written = (
      await run<{ start_ts: string; written: number }>(
        storage.commitShared([
          { startTs: t1, commitTs: t1 + 1n, keys: [['ab']], guarded: false }, // T1's background commitSecondaries, late
          { startTs: t2, commitTs: t2 + 1n, keys: [['ab '], ['zz']], guarded: true }, // T2's commitPrimary
        ]),
      )
    ).rows;
    const locks = (await db.client().query(`select id, start_ts::text from ${storage.locks} order by id`)).rows;
    const versions = (await db.client().query(`select id, start_ts::text from ${storage.versions} where start_ts = $1 order by id`, [String(t2)])).rows;
    // All or nothing for T2: either both keys have versions and no lock is left, or neither.
    expect(versions.length === 0 || (versions.length === 2 && locks.length === 0)).toBe(true);
    // And commitPrimary is told what happened.
    expect(written.some((w) => w.start_ts === String(t2))).toBe(versions.length === 2);
  });
});
