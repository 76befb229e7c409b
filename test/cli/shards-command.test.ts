import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresServer } from '../../src/harness/postgres-server.js';
import { percolator } from '../../src/index.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';

const execFileAsync = promisify(execFile);

/** `percolator shards ...`: exit code, stdout and stderr. */
async function shards(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['bin/percolator.js', 'shards', ...args]);
    return { code: 0, out: stdout, err: stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout, err: e.stderr };
  }
}

interface StatusJson {
  mapVersion: string;
  shards: { id: number; slots: number; ownedSlots: number; rows: number }[];
  removedShards: { id: number; keepRunningUntil: string }[];
}

/** `percolator shards add/rebalance/remove/status` end to end on throwaway servers, with rows to move. */
describe('percolator shards', () => {
  let cluster: TestCluster;
  let extra: PostgresServer;
  mkdirSync('.tmp', { recursive: true });
  const dir = mkdtempSync(path.join('.tmp', 'shards-'));
  const schemaFile = path.join(dir, 'schema.mjs');
  const status = async (): Promise<StatusJson> => {
    const run = await shards(['status', '--json', '--count-rows', '--oracle', cluster.oracleAddress]);
    expect(run.code, run.err).toBe(0);
    return JSON.parse(run.out) as StatusJson;
  };

  beforeAll(async () => {
    [cluster, extra] = await Promise.all([startTestCluster({ shards: 2 }), PostgresServer.create({ unsafeFast: true })]);
    writeFileSync(
      schemaFile,
      `import { integer, pgTable, text } from 'drizzle-orm/pg-core';
export const notes = pgTable('cli_shard_notes', { id: integer().primaryKey(), body: text() });
`,
    );
    const schema = (await import(pathToFileURL(path.resolve(schemaFile)).href)) as { notes: never };
    const db = await percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema, gc: false });
    try {
      await db.migrate();
      const notes = schema.notes as unknown as Parameters<typeof db.insert>[0];
      await db.insert(notes).values(Array.from({ length: 600 }, (_, id) => ({ id, body: `note ${id}` })) as never);
    } finally {
      await db.close();
    }
  });
  afterAll(async () => {
    await Promise.all([cluster?.destroy(), extra?.destroy()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('--help names every action and the throttle bound; bad arguments exit 2', async () => {
    const help = await shards(['--help']);
    expect(help.code).toBe(0);
    for (const word of ['add <url>', 'remove <url|id>', 'rebalance', 'status', '--max-rows-per-second', '--pause']) expect(help.out).toContain(word);
    expect((await shards(['add', '--oracle', cluster.oracleAddress])).code).toBe(2);
    const noSchema = await shards(['add', extra.url, '--oracle', cluster.oracleAddress]);
    expect(noSchema.code).toBe(2);
    expect(noSchema.err).toContain('--schema is required');
    expect((await shards(['split', '--oracle', cluster.oracleAddress])).code).toBe(2);
  });

  it('adds a shard and rebalances rows onto it, rebalances again (nothing to move), removes a shard, with status after each', async () => {
    const add = await shards(['add', extra.url, '--schema', schemaFile, '--rebalance', '--batch-slots', '1024', '--oracle', cluster.oracleAddress]);
    expect(add.code, add.err).toBe(0);
    expect(add.out).toContain('added shard 2');
    expect(add.out).not.toContain(extra.url.split('@')[0]!.split(':').pop()!);
    expect(add.out).toMatch(/moved \d+ slot\(s\) in \d+ batch\(es\)/);
    const added = await status();
    expect(added.shards.map((s) => s.id)).toEqual([0, 1, 2]);
    const slots = added.shards.map((s) => s.slots);
    expect(Math.max(...slots) - Math.min(...slots)).toBeLessThanOrEqual(1);
    expect(added.shards.reduce((n, s) => n + s.rows, 0)).toBe(600);
    expect(added.shards[2]!.rows).toBeGreaterThan(0);

    const again = await shards(['rebalance', '--slots-only', '--oracle', cluster.oracleAddress]);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain('moved 0 slot(s)');

    const remove = await shards(['remove', cluster.shardUrls[0]!, '--pause', '10ms', '--max-rows-per-second', '100000', '--oracle', cluster.oracleAddress]);
    expect(remove.code, remove.err).toBe(0);
    expect(remove.out).toContain('removed shard 0');
    expect(remove.out).toMatch(/keep it running until the GC safe point passes \d+/);
    const removed = await status();
    expect(removed.shards.map((s) => [s.id, s.slots, s.ownedSlots])).toEqual([
      [1, 2048, 2048],
      [2, 2048, 2048],
    ]);
    expect(removed.removedShards.map((r) => r.id)).toEqual([0]);
    const table = await shards(['status', '--oracle', cluster.oracleAddress]);
    expect(table.out).toMatch(/removed shard 0: keep its server running until the GC safe point passes \d+/);
  }, 180_000);

  it('a shard that is not in the map, and a throttle that is not a number, are refused with the error', async () => {
    const unknown = await shards(['remove', '7', '--oracle', cluster.oracleAddress]);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/is not a shard of cluster .* \(INVALID_INPUT\)/);
    const throttle = await shards(['rebalance', '--max-rows-per-second', 'fast', '--oracle', cluster.oracleAddress]);
    expect(throttle.code).toBe(1);
    expect(throttle.err).toContain('maxRowsPerSecond');
  });
});
