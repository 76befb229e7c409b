import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { describeTable } from '../../src/schema/table-meta.js';
import { buildPointRead } from '../../src/shard/point-read-statements.js';
import { slotOf } from '../../src/shard/shard-of.js';
import {
  abandonSlots,
  deleteSlotRows,
  freezeSlots,
  grantSlots,
  lockOwnedSlots,
  receiveSlots,
  releaseSlots,
  unfreezeSlots,
} from '../../src/shard/slot-ownership-statements.js';
import { buildSnapshotRead } from '../../src/shard/snapshot-read-statement.js';
import { validationStatement } from '../../src/shard/read-validation-statement.js';
import { TableStorage } from '../../src/shard/table-storage.js';
import { useStorageServer } from '../support/storage-server.js';

const items = pgTable('so_items', { id: integer().primaryKey(), v: text() });
const meta = describeTable(items);
const storage = new TableStorage(meta);

/** Ids in two distinct slots, three each. */
function idsInTwoSlots(): { s1: number; s2: number; ids1: number[]; ids2: number[] } {
  const bySlot = new Map<number, number[]>();
  for (let id = 1; ; id++) {
    const slot = slotOf(meta, { id });
    const ids = bySlot.get(slot) ?? [];
    ids.push(id);
    bySlot.set(slot, ids);
    const full = [...bySlot].filter(([, list]) => list.length >= 3);
    if (full.length >= 2) return { s1: full[0]![0], s2: full[1]![0], ids1: full[0]![1].slice(0, 3), ids2: full[1]![1].slice(0, 3) };
  }
}

/**
 * The calls of slot ownership on one shard, statement by statement: what a
 * read at each map version returns, which writes the fence lets through,
 * and when a stale reader is refused.
 */
describe('slot ownership history of a shard', () => {
  const db = useStorageServer(meta);
  const { s1, s2, ids1, ids2 } = idsInTwoSlots();
  let ts = 1_000_000n;
  const next = (): bigint => (ts += 100n);

  const write = async (ids: number[]) => {
    const s = next();
    await db.run(storage.prewrite(s, meta.name, [String(ids[0])], 60_000, ids.map((id) => ({ keyTexts: [String(id)], op: 'put' as const, isInsert: false, slot: slotOf(meta, { id }), valueTexts: [`v${id}`] }))));
    await db.run(storage.commitKeys(s, s + 10n, ids.map((id) => [String(id)])));
  };
  /** Sent as the engine sends it: without the per-row filter, then with it when the shard answers PCSL3. */
  const scanAt = async (mapVersion: bigint): Promise<number[]> => {
    const scan = async (slotFilter: boolean) => {
      const read = buildSnapshotRead({ storage, readTs: ts + 1_000n, ownStartTs: ts + 1_000n, mapVersion, slotFilter, buffered: [] });
      return (await db.client().query<{ __kind: string; id: number }>(read.sql, read.params)).rows;
    };
    const rows = await scan(false).catch((error: { code?: string }) => {
      if (error.code !== 'PCSL3') throw error;
      return scan(true);
    });
    return rows.filter((r) => r.__kind === 'r').map((r) => r.id).sort((a, b) => a - b);
  };
  const pointAt = async (mapVersion: bigint, ids: number[]): Promise<number> => {
    const read = buildPointRead({ storage, readTs: ts + 1_000n, ownStartTs: ts + 1_000n, mapVersion, keys: ids.map((id) => [String(id)]), bufferedPuts: [] });
    return (await db.client().query<{ __kind: string }>(read.sql, read.params)).rows.filter((r) => r.__kind === 'r').length;
  };
  const fenced = (ids: number[]) => write(ids).then(() => 'written', (error: { code?: string }) => error.code);
  const moved = async (mapVersion: bigint): Promise<boolean> => {
    const statement = validationStatement({ startTs: 1n, commitTs: 2n, mapVersion, storageOf: () => storage }, { keys: new Map([[meta.name, [{ keyTexts: ['999999'], readTs: 1n }]]]), predicates: [] });
    return (await db.client().query<{ kind: string }>(statement.text, statement.values as unknown[])).rows.some((r) => r.kind === 'moved');
  };
  const all = () => [...ids1, ...ids2].sort((a, b) => a - b);

  it('freeze: owned only below untilVersion, no writes; unfreeze undoes it', async () => {
    await write([...ids1, ...ids2]);
    expect(await scanAt(1n)).toEqual(all());
    await db.client().query('begin');
    await db.run(lockOwnedSlots);
    expect((await db.run<{ slot: number }>(freezeSlots([s1], 5n))).rows).toEqual([{ slot: s1 }]);
    await db.client().query('commit');
    expect(await fenced(ids1)).toBe('PCSL1');
    expect(await scanAt(4n)).toEqual(all());
    expect(await scanAt(5n)).toEqual([...ids2].sort((a, b) => a - b));
    expect(await moved(4n)).toBe(true);
    await db.run(unfreezeSlots([s1]));
    expect(await scanAt(5n)).toEqual(all());
    expect(await fenced(ids1)).toBe('written');
    expect(await moved(4n)).toBe(false);
  });

  it('release: rows readable below the release version until deleted; then readers below it are refused', async () => {
    await db.run(releaseSlots([s2], 3n, 123n));
    expect(await fenced(ids2)).toBe('PCSL1');
    expect(await scanAt(2n)).toEqual(all());
    expect(await scanAt(3n)).toEqual([...ids1].sort((a, b) => a - b));
    expect(await pointAt(2n, ids2)).toBe(3);
    await expect(db.run(deleteSlotRows([s1]))).rejects.toMatchObject({ code: 'PCSL2' });
    expect((await db.run<{ deleted: string }>(deleteSlotRows([s2]))).rows[0]!.deleted).toBe('6');
    await expect(scanAt(2n)).rejects.toMatchObject({ code: 'PCSL1' });
    await expect(pointAt(2n, ids1)).rejects.toMatchObject({ code: 'PCSL1' });
    expect(await scanAt(3n)).toEqual([...ids1].sort((a, b) => a - b));
    expect(await pointAt(3n, ids1)).toBe(3);
  });

  it('receive: copied rows are foreign at every version and not writable; grant owns them from its version; abandon undoes it', async () => {
    expect((await db.run<{ slot: number }>(receiveSlots([s1, s2]))).rows).toEqual([{ slot: s2 }]); // s1 is owned here
    // Rows of s2 as a mover copies them in.
    await db.client().query(
      `insert into ${storage.versions} (id, v, slot, commit_ts, start_ts, op) select id, 'copied', $2, 10, 5, 'put' from unnest($1::int[]) id;
       insert into ${storage.latest} (id, v, slot, commit_ts, op) select id, 'copied', $2, 10, 'put' from unnest($1::int[]) id`.replace(/\$1/g, `'{${ids2.join(',')}}'`).replace(/\$2/g, String(s2)),
    );
    expect(await fenced(ids2)).toBe('PCSL1');
    expect(await scanAt(3n)).toEqual([...ids1].sort((a, b) => a - b));
    expect(await scanAt(100n)).toEqual([...ids1].sort((a, b) => a - b));
    await db.run(grantSlots([s2], 7n));
    expect(await scanAt(6n)).toEqual([...ids1].sort((a, b) => a - b));
    expect(await scanAt(7n)).toEqual(all());
    expect(await fenced(ids2)).toBe('written');
    await expect(scanAt(2n)).rejects.toMatchObject({ code: 'PCSL1' }); // its earlier rows here were deleted at version 3
    await db.run(abandonSlots([s2]));
    expect(await scanAt(7n)).toEqual([...ids1].sort((a, b) => a - b));
    expect(await fenced(ids2)).toBe('PCSL1');
    await db.run(deleteSlotRows([s2]));
    expect(await scanAt(7n)).toEqual([...ids1].sort((a, b) => a - b));
  });
});
