/**
 * A prototype of another storage layout, for storage-layout.ts to measure
 * against the engine's (T__versions + T__locks + T__latest): one row per
 * key holding the newest committed image and the lock fields with the
 * pending image, so that prewrite and commit are two HOT updates of that
 * row (no indexed column changes), and the image a commit replaces is
 * appended to a history table. Statements for the bank accounts table
 * (`id integer`, `balance integer`) only, covering what a conflict-free
 * transfer runs: point read, prewrite, guarded commit. Not used by the
 * engine; the SQL lives here because it is a measurement, not storage.
 *
 * What the engine would still need and this prototype leaves out (none of
 * it runs on a conflict-free transfer): the full conflict report, rollback
 * (a marker appended to history, `write_ts` raised to the start_ts so that
 * the late prewrite fails the same barrier check), pessimistic locks, and
 * an index to find old locks (an index on `lock_start_ts` would make every
 * prewrite and commit a non-HOT update; GC and lock resolution would scan).
 */

const ROWS = 'acc_one__rows';
const HISTORY = 'acc_one__history';

export const oneRowDdl = `
create table ${ROWS} (
  id integer primary key,
  commit_ts bigint not null,        -- newest committed put/del (0: never written)
  start_ts bigint not null,         -- its transaction's start
  op text not null,                 -- put | del | none
  write_ts bigint not null,         -- conflict barrier: newest commit or rollback marker
  balance integer,
  lock_start_ts bigint,             -- null: no lock
  lock_op text,
  lock_is_insert boolean,
  lock_for_update boolean,
  lock_primary_table text,
  lock_primary_key text[],
  lock_ttl_ms bigint,
  lock_written_at timestamptz,
  lock_min_commit_ts bigint,
  pending_balance integer
) with (fillfactor = 70);
create table ${HISTORY} (
  id integer not null,
  commit_ts bigint not null,
  start_ts bigint not null,
  op text not null,
  balance integer,
  primary key (id, commit_ts)
);
create function acc_one__prewrite(text[], text[], text[], text[], text[], text[], text[], text[], text[])
returns table (i int, kind text, ts text) language plpgsql volatile as $f$
declare __written bigint; __missing text;
begin
  insert into ${ROWS} as r (id, commit_ts, start_ts, op, write_ts, lock_start_ts, lock_op, lock_is_insert, lock_for_update,
    lock_primary_table, lock_primary_key, lock_ttl_ms, lock_written_at, lock_min_commit_ts, pending_balance)
  select b.k0::integer, 0, 0, 'none', 0, b.s::bigint, b.op, b.ins::boolean, false, b.pt, b.pk::text[], b.ttl::bigint,
    clock_timestamp(), 0, b.v0::integer
  from unnest($1, $2, $3, $4, $5, $6, $7, $8) as b(s, pt, pk, ttl, op, ins, k0, v0)
  order by b.k0::integer
  on conflict (id) do update set lock_start_ts = excluded.lock_start_ts, lock_op = excluded.lock_op,
    lock_is_insert = excluded.lock_is_insert, lock_for_update = false, lock_primary_table = excluded.lock_primary_table,
    lock_primary_key = excluded.lock_primary_key, lock_ttl_ms = excluded.lock_ttl_ms, lock_written_at = excluded.lock_written_at,
    lock_min_commit_ts = 0, pending_balance = excluded.pending_balance
  -- The row is locked while this is evaluated (a concurrent writer's update is waited for and re-read): one
  -- statement decides, no second snapshot. Rollback markers raise write_ts, so they stop a late prewrite too.
  where r.lock_start_ts is null and r.write_ts < excluded.lock_start_ts and not (excluded.lock_is_insert and r.op = 'put');
  get diagnostics __written = row_count;
  -- The schema fence, as the engine's prewrite runs it.
  select string_agg(c.name, ', ') into __missing from percolator_tables c where c.index_of = 'acc_one' and not (c.name = any($9));
  if __missing is not null then raise exception using errcode = 'PCSV1', message = 'fence'; end if;
  if __written = cardinality($1) then return; end if;
  -- Some key was skipped: report it (the engine would name the conflict; a conflict-free run never gets here).
  return query select (b.n - 1)::int, 'conflict'::text, r.write_ts::text
    from unnest($7) with ordinality as b(k0, n) join ${ROWS} r on r.id = b.k0::integer
    where r.lock_start_ts is distinct from ($1[1])::bigint;
end
$f$;`;

/** Rows of the seeded table: every account committed at ts 1. */
export function oneRowSeed(accounts: number, balance: number): string {
  return `insert into ${ROWS} (id, commit_ts, start_ts, op, write_ts, balance)
select g, 1, 1, 'put', 1, ${balance} from generate_series(0, ${accounts - 1}) g`;
}

/** $1 read ts, $2 own start ts, $3 keys: the image at the read ts (from history when the row is newer), locks of others. */
export const oneRowPointRead = `select r.id, case when r.commit_ts <= $1::bigint then (case when r.op = 'put' then r.balance end) else h.balance end as balance,
  case when r.lock_start_ts <= $1::bigint and r.lock_start_ts <> $2::bigint and r.lock_op in ('put', 'del') then r.lock_start_ts::text end as lock_start,
  r.lock_primary_table, r.lock_primary_key,
  (r.lock_written_at + r.lock_ttl_ms * interval '1 millisecond' < clock_timestamp()) as expired
from ${ROWS} r left join lateral (
  select h.balance, h.op from ${HISTORY} h where r.commit_ts > $1::bigint and h.id = r.id and h.commit_ts <= $1::bigint
    and h.op in ('put', 'del') order by h.commit_ts desc limit 1) h on true
where r.id = any($3::text[]::integer[])
union all select null, null, g.safe_point::text, null, null, null from percolator_gc g where g.safe_point > $1::bigint`;

/** The parameters of acc_one__prewrite: one text[] per column, a row per key. */
export function oneRowPrewriteParams(startTs: bigint, primary: number, rows: readonly { id: number; balance: number }[]): unknown[] {
  const each = <T>(value: T) => rows.map(() => value);
  return [
    each(startTs.toString()), each('acc_one'), each(`{${primary}}`), each('20000'), each('put'), each('f'),
    rows.map((r) => String(r.id)), rows.map((r) => String(r.balance)), [],
  ];
}

export const oneRowPrewrite = 'select * from acc_one__prewrite($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])';

/**
 * $1 start ts, $2 commit ts, $3 primary key, $4 the transaction's keys on this shard. The primary's lock is
 * row-locked first (the commit point); the replaced images go to history, and each row becomes its pending
 * image with the lock cleared: a HOT update.
 */
export const oneRowCommit = `with p as materialized (select r.id from ${ROWS} r where r.id = $3::text::integer and r.lock_start_ts = $1::bigint
    and r.lock_min_commit_ts <= $2::bigint and not r.lock_for_update for update),
h as (insert into ${HISTORY} (id, commit_ts, start_ts, op, balance)
  select r.id, r.commit_ts, r.start_ts, r.op, r.balance from ${ROWS} r
  where r.id = any($4::text[]::integer[]) and r.lock_start_ts = $1::bigint and r.op <> 'none' and r.lock_op <> 'lock' and exists (select from p)),
u as (update ${ROWS} r set commit_ts = case when r.lock_op = 'lock' then r.commit_ts else $2::bigint end,
    start_ts = case when r.lock_op = 'lock' then r.start_ts else $1::bigint end,
    op = case when r.lock_op = 'lock' then r.op else r.lock_op end, write_ts = greatest(r.write_ts, $2::bigint),
    balance = case when r.lock_op = 'lock' then r.balance else r.pending_balance end,
    lock_start_ts = null, lock_op = null, lock_is_insert = null, lock_for_update = null, lock_primary_table = null,
    lock_primary_key = null, lock_ttl_ms = null, lock_written_at = null, lock_min_commit_ts = null, pending_balance = null
  where r.id = any($4::text[]::integer[]) and r.lock_start_ts = $1::bigint and exists (select from p) returning r.id)
select count(*)::int as written from u`;

export const oneRowTables = [ROWS, HISTORY];
