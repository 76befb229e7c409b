import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countOnShards } from '../support/raw-shards.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

const execFileAsync = promisify(execFile);

/** `percolator migrate ...`: exit code, stdout and stderr. */
async function migrate(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['bin/percolator.js', 'migrate', ...args], { env: { ...process.env, ...env } });
    return { code: 0, out: stdout, err: stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout, err: e.stderr };
  }
}

describe('percolator migrate', () => {
  let cluster: TestCluster;
  // Inside the checkout, so that the module resolves drizzle-orm from its node_modules.
  mkdirSync('.tmp', { recursive: true });
  const dir = mkdtempSync(path.join('.tmp', 'migrate-'));
  const schemaFile = path.join(dir, 'schema.mjs');
  beforeAll(async () => {
    cluster = await startTestCluster({ shards: 2 });
    writeFileSync(
      schemaFile,
      `import { integer, pgEnum, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
export const mood = pgEnum('mood', ['ok', 'meh']);
export const notes = pgTable('cli_notes', { id: integer().primaryKey(), body: text(), mood: mood() });
export const lines = pgTable('cli_lines', { noteId: integer('note_id').notNull(), n: integer().notNull() }, (t) => [primaryKey({ columns: [t.noteId, t.n] })]);
export const shardKeys = { lines: ['noteId'] };
`,
    );
  });
  afterAll(async () => {
    await cluster?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates the storage of the module's tables on every shard, idempotently, with shards and oracle from flags or the environment", async () => {
    const flags = await migrate(['--schema', schemaFile, '--shards', cluster.shardUrls.join(','), '--oracle', cluster.oracleAddress]);
    expect(flags.code, flags.err).toBe(0);
    expect(flags.out).toMatch(/migrated 2 table\(s\) \(lines, notes\) on 2 shard\(s\)/);
    const tables = await countOnShards(cluster.shardUrls, `select count(*) as n from pg_tables where tablename in ('cli_notes__versions', 'cli_lines__locks')`);
    expect(tables).toEqual([2, 2]);
    const again = await migrate(['--schema', schemaFile], { PERCOLATOR_SHARDS: cluster.shardUrls.join(','), PERCOLATOR_ORACLE: cluster.oracleAddress });
    expect(again.code, again.err).toBe(0);
  });

  it('takes the shards from the oracle\'s map whatever their order, and refuses a database that is not a shard, with the error and without passwords', async () => {
    const swapped = await migrate(['--schema', schemaFile, '--shards', [...cluster.shardUrls].reverse().join(','), '--oracle', cluster.oracleAddress]);
    expect(swapped.code, swapped.err).toBe(0);
    const oracleOnly = await migrate(['--schema', schemaFile, '--oracle', cluster.oracleAddress]);
    expect(oracleOnly.code, oracleOnly.err).toBe(0);
    expect(oracleOnly.out).toMatch(/on 2 shard\(s\)/);
    const server = cluster.shards.servers[1]!;
    const admin = new pg.Client(server.url);
    await admin.connect();
    await admin.query('create database cli_blank');
    await admin.end();
    const blank = await migrate(['--schema', schemaFile, '--shards', [cluster.shardUrls[0]!, server.urlFor('cli_blank')].join(','), '--oracle', cluster.oracleAddress]);
    expect(blank.code).toBe(1);
    expect(blank.err).toMatch(/SCHEMA/i);
    expect(blank.err).toMatch(/records no identity/);
    const password = new URL(cluster.shardUrls[0]!).password;
    expect(blank.err).not.toContain(password);
  });

  it('adds a column, and drops the tables the module no longer declares only with --drop-tables', async () => {
    const changed = path.join(dir, 'changed.mjs');
    writeFileSync(
      changed,
      `import { integer, pgEnum, pgTable, text } from 'drizzle-orm/pg-core';
export const mood = pgEnum('mood', ['ok', 'meh']);
export const notes = pgTable('cli_notes', { id: integer().primaryKey(), body: text(), mood: mood(), title: text() });
`,
    );
    const args = ['--schema', changed, '--shards', cluster.shardUrls.join(','), '--oracle', cluster.oracleAddress];
    const kept = await migrate(args);
    expect(kept.code, kept.err).toBe(0);
    const columns = `select (select count(*) from information_schema.columns where table_name = 'cli_notes__versions' and column_name = 'title') * 10 + (select count(*) from pg_tables where tablename = 'cli_lines__versions') as n`;
    expect(await countOnShards(cluster.shardUrls, columns)).toEqual([11, 11]);
    const dropped = await migrate([...args, '--drop-tables']);
    expect(dropped.code, dropped.err).toBe(0);
    expect(await countOnShards(cluster.shardUrls, columns)).toEqual([10, 10]);
  });

  it('explains missing arguments and unloadable modules', async () => {
    expect((await migrate([])).code).toBe(2);
    const missing = await migrate(['--schema', path.join(dir, 'nope.mjs'), '--shards', cluster.shardUrls.join(','), '--oracle', cluster.oracleAddress]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/cannot load the schema module/);
  });
});
