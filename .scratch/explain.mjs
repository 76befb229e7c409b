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
  const oldView = `select count(*) from (select id, grp, amount, op as __op from items__latest where commit_ts <= $1 union all select v.id, v.grp, v.amount, v.op from items__latest n cross join lateral (select id, grp, amount, op from items__versions v where v.id = n.id and v.commit_ts <= $1 and v.op in ('put','del') order by v.commit_ts desc limit 1) v where n.commit_ts > $1) v where v.__op = 'put'`;
  const newView = `select count(*) from (select n.id, case when n.commit_ts <= $1 then n.amount else (select v from items__versions v where v.id = n.id and v.commit_ts <= $1 and v.op in ('put','del') order by v.commit_ts desc limit 1).amount end as amount, case when n.commit_ts <= $1 then n.op else (select v from items__versions v where v.id = n.id and v.commit_ts <= $1 and v.op in ('put','del') order by v.commit_ts desc limit 1).op end as __op from items__latest n) v where v.__op = 'put'`;
  const orView = `select count(*) from items__latest n where (n.commit_ts <= $1 and n.op = 'put') or (n.commit_ts > $1 and (select v from items__versions v where v.id = n.id and v.commit_ts <= $1 and v.op in ('put','del') order by v.commit_ts desc limit 1).op = 'put')`;
  for (let r = 0; r < 3; r++) {
    await time('plain count latest', 'select count(*) from items__latest');
    await time('old view', oldView, [ts]);
    await time('new view', newView, [ts]);
    await time('or view', orView, [ts]);
  }
  await c.end();
} finally { await db.close(); await oracle.stop(); await Promise.all([shards.destroy(), server.destroy()]); }
