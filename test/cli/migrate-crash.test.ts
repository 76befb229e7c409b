import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { eq } from 'drizzle-orm';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percolator, SchemaError, SchemaVersionError, type Database } from '../../src/index.js';
import { describeTable } from '../../src/schema/table-meta.js';
import { shardOf as shardOfRow } from '../../src/shard/shard-of.js';
import { queryOnShards } from '../support/raw-shards.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

// A `percolator migrate` killed between shards: the shards it changed are
// wholly at the new version, the others wholly at the old one, each fencing
// the writers that do not fit it; the next migrate completes the change.

const v1 = pgTable('parcels', { id: integer().primaryKey(), label: text().notNull() });
const v2 = pgTable('parcels', { id: integer().primaryKey(), label: text().notNull(), weight: integer().notNull().default(1) });
// The advisory lock migrate() takes on each shard (src/shard/migrate.ts).
const MIGRATION_LOCK_KEY = 7_366_512_001;

describe('a migrate killed between shards', () => {
  let cluster: TestCluster;
  const open: Database<Record<string, typeof v1 | typeof v2>>[] = [];
  mkdirSync('.tmp', { recursive: true });
  const dir = mkdtempSync(path.join('.tmp', 'migrate-crash-'));
  const schemaFile = path.join(dir, 'schema.mjs');

  beforeAll(async () => {
    cluster = await startTestCluster({ shards: 3 });
    writeFileSync(
      schemaFile,
      `import { integer, pgTable, text } from 'drizzle-orm/pg-core';
export const parcels = pgTable('parcels', { id: integer().primaryKey(), label: text().notNull(), weight: integer().notNull().default(1) });
`,
    );
  });
  afterAll(async () => {
    await Promise.all(open.map((db) => db.close()));
    await cluster?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function connect<T extends typeof v1 | typeof v2>(parcels: T): Promise<Database<{ parcels: T }>> {
    const db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema: { parcels }, maxRetries: 10 });
    open.push(db as never);
    return db;
  }

  const versions = async () => (await queryOnShards<{ v: number }>(cluster.shardUrls, `select schema_version as v from percolator_tables where name = 'parcels'`)).map((r) => r[0]!.v);

  it('leaves each shard at one version, fencing what does not fit it, and the next migrate completes it', async () => {
    const old = await connect(v1);
    await old.migrate();
    await old.insert(v1).values(Array.from({ length: 60 }, (_, id) => ({ id, label: `p${id}` })));
    const meta = describeTable(v1);
    const shardOf = (id: number) => shardOfRow(meta, { id }, 3);

    // The last shard's migration waits on its lock while the others commit; then the process is killed.
    const blocker = new pg.Client(cluster.shardUrls[2]);
    await blocker.connect();
    await blocker.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const child = spawn(process.execPath, ['bin/percolator.js', 'migrate', '--schema', schemaFile, '--shards', cluster.shardUrls.join(','), '--oracle', cluster.oracleAddress], {
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    for (let waited = 0; (await versions()).join() !== '2,2,1'; waited += 50) {
      if (waited > 30_000) throw new Error(`shards 0 and 1 not migrated: ${(await versions()).join()}`);
      await sleep(50);
    }
    child.kill('SIGKILL');
    await exited;
    await blocker.end();
    expect(await versions()).toEqual([2, 2, 1]);
    const columns = await queryOnShards<{ n: string }>(cluster.shardUrls, `select count(*) as n from information_schema.columns where column_name = 'weight'`);
    expect(columns.map((r) => Number(r[0]!.n))).toEqual([3, 3, 0]);

    // Each shard fences the writers that do not fit it; everyone reads.
    const upgraded = await connect(v2);
    const onShard = (shard: number) => Array.from({ length: 60 }, (_, id) => id).find((id) => shardOf(id) === shard)!;
    await expect(old.update(v1).set({ label: 'x' }).where(eq(v1.id, onShard(0)))).rejects.toBeInstanceOf(SchemaVersionError);
    await old.update(v1).set({ label: 'old' }).where(eq(v1.id, onShard(2)));
    await upgraded.update(v2).set({ weight: 5 }).where(eq(v2.id, onShard(1)));
    const fresh = Array.from({ length: 100 }, (_, i) => 1000 + i).find((id) => shardOf(id) === 2)!;
    const unmigrated = await upgraded.insert(v2).values({ id: fresh, label: 'n' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // A newer declaration on a shard not migrated yet: its statements name the new column (run migrate).
    expect(unmigrated).toBeInstanceOf(SchemaError);
    expect((unmigrated as Error).message).toMatch(/migrate\(\)/);
    expect(await old.select().from(v1)).toHaveLength(60);

    await upgraded.migrate();
    expect(await versions()).toEqual([2, 2, 2]);
    const rows = await upgraded.select().from(v2);
    expect(rows.filter((r) => r.id < 60).every((r) => r.weight === (r.id === onShard(1) ? 5 : 1))).toBe(true);
    expect(rows.find((r) => r.id === onShard(2))!.label).toBe('old');
    await upgraded.update(v2).set({ weight: 7 }).where(eq(v2.id, onShard(2)));
    await expect(old.update(v1).set({ label: 'x' }).where(eq(v1.id, onShard(2)))).rejects.toBeInstanceOf(SchemaVersionError);
  });
});
