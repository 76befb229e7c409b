import { slotOfTexts } from '../../src/shard/shard-of.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresServer } from '../../src/harness/postgres-server.js';
import { silentLogger } from '../../src/logger.js';
import { migrateShards } from '../../src/shard/migrate.js';
import { ShardPool } from '../../src/shard/shard-pool.js';
import { TableStorage } from '../../src/shard/table-storage.js';
import type { LockWrite, PrewriteConflictRow } from '../../src/shard/prewrite-statements.js';
import { composeTimestamp } from '../../src/timestamp.js';
import { accountsMeta } from '../support/bank-schema.js';

/**
 * The protocol's statements replayed after cleanup, on one real shard
 * (what a delayed or duplicated request from a slow client would do).
 */
describe('replayed prewrite / commit / rollback after cleanup', () => {
  let server: PostgresServer;
  let shard: ShardPool;
  const storage = new TableStorage(accountsMeta);
  const ts = (n: number) => composeTimestamp(Date.now(), n);
  const key = ['42'];
  const write: LockWrite = { keyTexts: key, op: 'put', isInsert: false, slot: slotOfTexts(key), valueTexts: ['500', 'replay'] };
  const count = async (sql: string) => Number((await shard.query<{ n: string }>({ text: sql, values: [] })).rows[0]!.n);

  beforeAll(async () => {
    server = await PostgresServer.create({ unsafeFast: true });
    shard = new ShardPool(0, server.url, silentLogger);
    await migrateShards([shard], [accountsMeta]);
    await migrateShards([shard], [accountsMeta]); // idempotent
  });
  afterAll(async () => {
    await shard?.close();
    await server?.destroy();
  });

  it('refuses a prewrite replayed after rollback, leaves no lock, and keeps cleanup idempotent', async () => {
    const start = ts(1);
    const prewrite = () => shard.query<PrewriteConflictRow>(storage.prewrite(start, 'accounts', key, 3000, [write]));
    expect((await prewrite()).rows).toEqual([]);
    expect(await count('select count(*) as n from accounts__locks')).toBe(1);

    // Rolled back (by the client or a resolver): lock gone, marker at commit_ts = start.
    await shard.query(storage.rollbackKeys(start, [key], [true]));
    await shard.query(storage.rollbackKeys(start, [key], [true])); // idempotent
    expect(await count('select count(*) as n from accounts__locks')).toBe(0);
    expect(await count(`select count(*) as n from accounts__versions where op = 'rollback'`)).toBe(1);

    const replay = await prewrite();
    expect(replay.rows.map((r) => r.kind)).toContain('version');
    expect(await count('select count(*) as n from accounts__locks')).toBe(0); // no resurrected lock

    // A replayed commit finds no lock and writes nothing.
    const committed = await shard.query(storage.commitKeys(start, ts(2), [key]));
    expect(committed.rowCount).toBe(0);
    expect(await count(`select count(*) as n from accounts__versions where op = 'put'`)).toBe(0);
  });

  it('a commit replayed after the commit is a no-op, and an older transaction can no longer prewrite', async () => {
    const older = ts(10);
    const start = ts(11);
    expect((await shard.query<PrewriteConflictRow>(storage.prewrite(start, 'accounts', key, 3000, [write]))).rows).toEqual([]);
    const commitTs = ts(12);
    expect((await shard.query(storage.commitKeys(start, commitTs, [key]))).rowCount).toBe(1);
    expect((await shard.query(storage.commitKeys(start, commitTs, [key]))).rowCount).toBe(0);
    expect(await count(`select count(*) as n from accounts__versions where op = 'put'`)).toBe(1);

    const late = await shard.query<PrewriteConflictRow>(storage.prewrite(older, 'accounts', key, 3000, [write]));
    expect(late.rows[0]).toMatchObject({ kind: 'version', ts: commitTs.toString() });
    expect(await count('select count(*) as n from accounts__locks')).toBe(0);
  });

  it('a heartbeat never lowers the TTL', async () => {
    const start = ts(20);
    const other = ['43'];
    expect((await shard.query<PrewriteConflictRow>(storage.prewrite(start, 'accounts', other, 3000, [{ ...write, keyTexts: other }]))).rows).toEqual([]);
    const beat = async (ttl: number) => Number((await shard.query<{ ttl_ms: string }>(storage.heartbeat(start, other, ttl))).rows[0]!.ttl_ms);
    expect(await beat(10)).toBe(3000);
    const raised = await beat(5000);
    expect(raised).toBeGreaterThanOrEqual(5000);
    expect(await beat(10)).toBe(raised);
    await shard.query(storage.rollbackKeys(start, [other], [true]));
  });
});
