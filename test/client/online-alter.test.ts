import { eq, inArray } from 'drizzle-orm';
import { index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import type { PgTable } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percolator, SchemaError, SchemaVersionError, type Database } from '../../src/index.js';
import { queryOnShards } from '../support/raw-shards.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

let cluster: TestCluster;
const open: Database<Record<string, PgTable>>[] = [];

async function connect<S extends Record<string, PgTable>>(schema: S): Promise<Database<S>> {
  const db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema, maxRetries: 20 });
  open.push(db as unknown as Database<Record<string, PgTable>>);
  return db;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (e: unknown) => e,
  );
}

/** What every shard stores of a table: its storage tables' columns, catalogue row and migration records. */
async function storedShape(table: string): Promise<unknown[]> {
  return queryOnShards(
    cluster.shardUrls,
    `select (select json_agg(c.table_name || '.' || c.column_name || ':' || c.data_type order by c.table_name, c.ordinal_position) from information_schema.columns c where c.table_name like '${table}\\_\\_%') as columns,
      (select row_to_json(t) from (select name, value_columns, value_types, schema_version, schema_fingerprint from percolator_tables where name = '${table}') t) as catalogue,
      (select json_agg(m.name || '=' || m.checksum order by m.name) from percolator_migrations m where m.name like 'table/${table}/%') as migrations`,
  );
}

beforeAll(async () => {
  cluster = await startTestCluster({ shards: 3 });
});

afterAll(async () => {
  await Promise.all(open.map((db) => db.close()));
  await cluster?.destroy();
});

describe('adding and dropping columns', () => {
  const v1 = pgTable('items', { id: integer().primaryKey(), name: text().notNull() });
  const v2 = pgTable('items', { id: integer().primaryKey(), name: text().notNull(), note: text(), qty: integer().notNull().default(7) });
  const v3 = pgTable('items', { id: integer().primaryKey(), name: text().notNull(), qty: integer().notNull().default(7) });

  it('existing rows read an added column’s default at every snapshot; older writers are fenced naming both versions, and still read', async () => {
    const old = await connect({ items: v1 });
    await old.migrate();
    await old.insert(v1).values(Array.from({ length: 30 }, (_, i) => ({ id: i, name: `n${i}` })));
    await old.update(v1).set({ name: 'renamed' }).where(eq(v1.id, 3));
    const before = await old.currentTimestamp();

    const upgraded = await connect({ items: v2 });
    await upgraded.migrate();
    const rows = await upgraded.select().from(v2).orderBy(v2.id);
    expect(rows).toHaveLength(30);
    expect(rows.every((r) => r.note === null && r.qty === 7)).toBe(true);
    expect(rows[3]!.name).toBe('renamed');
    // An older snapshot reads versions (not latest rows): they read the default too.
    expect((await upgraded.asOf(before).select().from(v2).where(eq(v2.id, 3)))[0]).toEqual({ id: 3, name: 'renamed', note: null, qty: 7 });
    const stored = await queryOnShards<{ n: string }>(cluster.shardUrls, `select count(*) as n from items__versions where op = 'put' and qty is distinct from 7`);
    expect(stored.map((r) => Number(r[0]!.n))).toEqual([0, 0, 0]);

    const fenced = await rejection(old.insert(v1).values({ id: 100, name: 'x' }));
    expect(fenced).toBeInstanceOf(SchemaVersionError);
    expect(fenced).toMatchObject({ table: 'items', clientVersion: 1, storedVersion: 2, retryable: false });
    await expect(old.update(v1).set({ name: 'y' }).where(eq(v1.id, 1))).rejects.toBeInstanceOf(SchemaVersionError);

    await upgraded.insert(v2).values({ id: 100, name: 'new', note: 'hello' });
    await upgraded.update(v2).set({ qty: 9 }).where(eq(v2.id, 1));
    expect((await old.select().from(v1).where(eq(v1.id, 100)))[0]).toEqual({ id: 100, name: 'new' });
    expect((await old.select().from(v1)).length).toBe(31);
    // Locking reads too (a transaction that writes would be fenced at its commit), with and without buffered writes.
    const locked = await old.transaction(async (tx) => tx.select().from(v1).where(inArray(v1.id, [5, 7])).for('update'));
    let lockedOverWrites: unknown[] = [];
    const rolledBack = await old
      .transaction(async (tx) => {
        await tx.update(v1).set({ name: 'buffered' }).where(eq(v1.id, 7));
        lockedOverWrites = await tx.select().from(v1).where(inArray(v1.id, [5, 7])).for('update');
      })
      .catch((e: unknown) => e);
    expect(rolledBack).toBeInstanceOf(SchemaVersionError);
    expect((lockedOverWrites as { id: number }[]).sort((a, b) => a.id - b.id)).toEqual([{ id: 5, name: 'n5' }, { id: 7, name: 'buffered' }]);
    expect(locked.map((r) => r.id).sort()).toEqual([5, 7]);
    expect((await upgraded.select().from(v2).where(eq(v2.id, 100)))[0]).toEqual({ id: 100, name: 'new', note: 'hello', qty: 7 });

    // The old client's migrate() does not undo the change, and it stays fenced.
    await old.migrate();
    expect((await upgraded.select().from(v2).where(eq(v2.id, 1)))[0]!.qty).toBe(9);
    await expect(old.insert(v1).values({ id: 101, name: 'x' })).rejects.toBeInstanceOf(SchemaVersionError);
  });

  it('a dropped column is gone on every shard; clients still declaring it can neither write nor read it (SchemaError)', async () => {
    const declaring = await connect({ items: v2 });
    const dropped = await connect({ items: v3 });
    await dropped.migrate();
    const columns = await queryOnShards<{ n: string }>(cluster.shardUrls, `select count(*) as n from information_schema.columns where column_name = 'note' and table_name like 'items\\_\\_%'`);
    expect(columns.map((r) => Number(r[0]!.n))).toEqual([0, 0, 0]);
    // Their statements name the dropped column (writes read the rows first): the shard refuses them.
    for (const statement of [declaring.insert(v2).values({ id: 200, name: 'z', note: 'z' }), declaring.update(v2).set({ note: 'z' }).where(eq(v2.id, 2)), declaring.select().from(v2)]) {
      const error = await rejection(statement);
      expect(error, String(error)).toBeInstanceOf(SchemaError);
      expect((error as Error).message).toMatch(/column "note" does not exist/);
    }
    await dropped.update(v3).set({ qty: 11 }).where(eq(v3.id, 2));
    expect((await dropped.select().from(v3).where(eq(v3.id, 2)))[0]).toEqual({ id: 2, name: 'n2', qty: 11 });
  });

  it('renames, type changes and key changes are refused naming the column, and every shard stays as it was', async () => {
    const shapeBefore = await storedShape('items');
    const refusals: [PgTable, RegExp][] = [
      [pgTable('items', { id: integer().primaryKey(), name: integer().notNull(), qty: integer().notNull().default(7) }), /column name is stored as text and declared as integer/],
      [pgTable('items', { id: integer().primaryKey(), title: text().notNull(), qty: integer().notNull().default(7) }), /drops column\(s\) name and adds title.*may be a rename/],
      // Refused already by percolator(): the shards place the rows by the key as stored.
      [pgTable('items', { id: text().primaryKey(), name: text().notNull(), qty: integer().notNull().default(7) }), /places its rows by \(id integer\), this client by \(id text\)/],
      [pgTable('items', { id: integer().primaryKey(), name: text().notNull(), qty: integer().notNull().default(7), added: text().notNull() }), /column added, added to stored rows, is not null without a default/],
    ];
    for (const [table, message] of refusals) {
      const error = await rejection(connect({ items: table }).then((db) => db.migrate()));
      expect(error, String(error)).toBeInstanceOf(SchemaError);
      expect((error as Error).message).toMatch(message);
    }
    expect(await storedShape('items')).toEqual(shapeBefore);
  });
});

describe('concurrent migrations', () => {
  it('two migrate() calls adding different columns at once: one applies on every shard, the other changes nothing', async () => {
    const base = pgTable('racing', { id: integer().primaryKey(), a: text() });
    await (await connect({ racing: base })).migrate();
    const withX = pgTable('racing', { id: integer().primaryKey(), a: text(), x: text() });
    const withY = pgTable('racing', { id: integer().primaryKey(), a: text(), y: text() });
    const [one, two] = [await connect({ racing: withX }), await connect({ racing: withY })];
    const results = await Promise.allSettled([one.migrate(), two.migrate()]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(SchemaError);
    const winner = results[0]!.status === 'fulfilled' ? 'x' : 'y';
    const shape = await queryOnShards<{ v: number; columns: string[] }>(
      cluster.shardUrls,
      `select schema_version as v, (select array_agg(column_name::text order by column_name) from information_schema.columns where table_name = 'racing__versions' and column_name in ('x', 'y')) as columns from percolator_tables where name = 'racing'`,
    );
    expect(shape.map((rows) => rows[0])).toEqual(cluster.shardUrls.map(() => ({ v: 2, columns: [winner] })));
  });
});

describe('indexes and tables', () => {
  it('an index no longer declared is dropped on every shard; writers still declaring it are fenced', async () => {
    const withIndex = pgTable('tagged', { id: integer().primaryKey(), tag: text().notNull() }, (t) => [index('tagged_tag_idx').on(t.tag)]);
    const without = pgTable('tagged', { id: integer().primaryKey(), tag: text().notNull() });
    const old = await connect({ tagged: withIndex });
    await old.migrate();
    await old.insert(withIndex).values([{ id: 1, tag: 'a' }, { id: 2, tag: 'b' }]);
    expect((await old.select().from(withIndex).where(eq(withIndex.tag, 'a'))).map((r) => r.id)).toEqual([1]); // through the index
    const upgraded = await connect({ tagged: without });
    await upgraded.migrate();
    const left = await queryOnShards<{ n: string }>(cluster.shardUrls, `select count(*) as n from pg_class where relname like 'tagged_tag_idx%'`);
    expect(left.map((r) => Number(r[0]!.n))).toEqual([0, 0, 0]);
    await expect(old.insert(withIndex).values({ id: 3, tag: 'c' })).rejects.toBeInstanceOf(SchemaVersionError);
    await upgraded.insert(without).values({ id: 3, tag: 'c' });
    expect((await upgraded.select().from(without).where(eq(without.tag, 'c'))).map((r) => r.id)).toEqual([3]);
    // The old client's reads that used the index now scan.
    expect((await old.select().from(withIndex).where(eq(withIndex.tag, 'c'))).map((r) => r.id)).toEqual([3]);
    await old.migrate(); // does not build it again
    expect((await queryOnShards<{ n: string }>(cluster.shardUrls, `select count(*) as n from pg_class where relname like 'tagged_tag_idx%'`)).map((r) => Number(r[0]!.n))).toEqual([0, 0, 0]);
  });

  it('a table the schema leaves out is kept, and dropped only when migrate() is told to', async () => {
    const scratch = pgTable('scratch', { id: integer().primaryKey(), body: text() });
    const keep = pgTable('keeper', { id: integer().primaryKey() });
    const first = await connect({ scratch, keep });
    await first.migrate();
    await first.insert(scratch).values([{ id: 1, body: 'a' }, { id: 2, body: 'b' }]);
    const second = await connect({ keep });
    await second.migrate();
    expect(await first.select().from(scratch)).toHaveLength(2);
    await expect(second.migrate({ dropTables: ['keeper'] })).rejects.toThrow(/declares/);
    await second.migrate({ dropTables: ['scratch'] });
    const left = await queryOnShards<{ n: string }>(cluster.shardUrls, `select (select count(*) from pg_class where relname like 'scratch\\_\\_%') + (select count(*) from percolator_tables where name = 'scratch') as n`);
    expect(left.map((r) => Number(r[0]!.n))).toEqual([0, 0, 0]);
    await expect(first.select().from(scratch)).rejects.toBeInstanceOf(SchemaError);
    // Declared again, it is created anew (empty).
    await first.migrate();
    expect(await first.select().from(scratch)).toEqual([]);
  });
});
