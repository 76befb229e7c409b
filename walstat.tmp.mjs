import pg from 'pg'; import fs from 'node:fs';
const lab = JSON.parse(fs.readFileSync('/work/scratch/lab.json', 'utf8'));
const out = [];
for (const url of lab.shards) { const c = new pg.Client(url); await c.connect(); const r = await c.query("select wal_records, wal_bytes, wal_write, wal_sync, (select sum(xact_commit) from pg_stat_database) as commits from pg_stat_wal"); out.push(r.rows[0]); await c.end(); }
const sum = (k) => out.reduce((s, r) => s + Number(r[k]), 0);
console.log(JSON.stringify({ records: sum('wal_records'), bytes: sum('wal_bytes'), writes: sum('wal_write'), syncs: sum('wal_sync'), commits: sum('commits') }));
