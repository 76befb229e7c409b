import pg from 'pg';
import { PostgresCluster } from '/work/wt-joins/dist/src/harness/postgres-cluster.js';
import { PostgresServer } from '/work/wt-joins/dist/src/harness/postgres-server.js';
import { percolator } from '/work/wt-joins/dist/src/index.js';
import { startOracle } from '/work/wt-joins/dist/bench/start-oracle.js';
import { silentLogger } from '/work/wt-joins/dist/src/logger.js';
import { integer, pgTable } from 'drizzle-orm/pg-core';
import { count } from 'drizzle-orm';
import { TableSql } from '/work/wt-joins/dist/src/shard/table-sql.js';
import { describeTable } from '/work/wt-joins/dist/src/schema/table-meta.js';
import { buildProjectedRead } from '/work/wt-joins/dist/src/shard/projected-read-statement.js';

const items = pgTable('items', { id: integer().primaryKey(), grp: integer().notNull(), amount: integer().notNull() });
const [shards, server] = await Promise.all([PostgresCluster.start(1, { unsafeFast: true }), PostgresServer.create({ unsafeFast: true })]);
const admin = new pg.Client(server.url); await admin.connect(); await admin.query('create database oracle_meta'); await admin.end();
const oracle = await startOracle(server.urlFor('oracle_meta'), silentLogger);
const db = await percolator({ oracle: [oracle.address], shards: shards.urls, schema: { items }, gc: false });
try {
  await db.migrate();
  const all = Array.from({ length: 33000 }, (_, i) => ({ id: i + 1, grp: i % 100, amount: (i * 7919) % 1000 }));
  for (let i = 0; i < all.length; i += 5000) await db.insert(items).values(all.slice(i, i + 5000));
  const c = new pg.Client(shards.urls[0]); await c.connect();
  await c.query('vacuum analyze items__latest');
  const ts = await db.currentTimestamp();
  const q = buildProjectedRead({ storage: new TableSql(describeTable(items)), readTs: ts, ownStartTs: ts, buffered: [], select: [{ aggregate: 'count' }] });
  const time = async (name, text, params = []) => {
    for (let i = 0; i < 3; i++) await c.query(text, params);
    const t = []; for (let i = 0; i < 15; i++) { const s = performance.now(); await c.query(text, params); t.push(performance.now() - s); }
    t.sort((a, b) => a - b); console.log(name, t[7].toFixed(2));
  };
  const { buildSnapshotRead } = await import('/work/wt-joins/dist/src/shard/snapshot-read-statement.js');
  const { eq, gt, inArray } = await import('drizzle-orm');
  for (const where of [eq(items.id, 5), inArray(items.id, [5, 6, 7]), gt(items.amount, 990)]) {
    const q2 = buildSnapshotRead({ storage: new TableSql(describeTable(items)), readTs: ts, ownStartTs: ts, buffered: [], where });
    const plan = await c.query('explain (analyze, costs off) ' + q2.sql, q2.params);
    console.log(plan.rows.map((r) => r['QUERY PLAN']).join('\n').slice(0, 2500));
    console.log('-----');
  }
  await c.end();
} finally { await db.close(); await oracle.stop(); await Promise.all([shards.destroy(), server.destroy()]); }
