import { toParameter } from './driver-values.js';
import type { KeyTexts } from './key-text.js';
import { lockExpiredSql } from './lock-ttl.js';
import type { Statement } from './shard-pool.js';
import { ident, literal, storageType } from '../schema/sql-names.js';
import type { TableSql } from './table-sql.js';
import { MultiTableTexts } from './multi-table-texts.js';

const MAX_BIGINT = '9223372036854775807';

/** One row written to the locks table. */
export interface LockWrite {
  keyTexts: KeyTexts;
  op: 'put' | 'del' | 'lock';
  isInsert: boolean;
  /** The key's slot: the shard refuses the statement unless it owns every slot of it (schema/core/0008-slot-ownership.sql). */
  slot: number;
  /** Driver texts of the non-key columns, in `valueColumns` order (absent for del/lock). */
  valueTexts?: readonly (string | null)[] | undefined;
}

/** One transaction's rows in a prewriteShared. */
export interface PrewriteEntry {
  readonly startTs: bigint;
  readonly primaryTable: string;
  readonly primaryKey: KeyTexts;
  readonly ttlMs: number;
  readonly rows: readonly LockWrite[];
}

export interface PrewriteConflictRow {
  /** Index of the key in the statement. */
  i: number;
  kind: 'version' | 'locked' | 'exists' | 'unlocked';
  /** commit_ts of the version, or start_ts of the lock. */
  ts: string;
  op: string;
  primary_table: string | null;
  primary_key: string[] | null;
  expired: boolean | null;
}

/**
 * The statements of prewrite. Prewrite runs as one call of a per-table
 * PL/pgSQL function (created by the table's migration): one round trip, one
 * statement, and inside it two statements with their own snapshots, which
 * the protocol needs (see prewriteCheckSql). One call can prewrite several
 * transactions (concurrent ones, as a shared statement). Parameters, one
 * text[] each with
 * an element per row: $1 start_ts, $2 primary table, $3 primary key (an
 * array literal), $4 ttl, $5 op, $6 insert flag, then one per key column,
 * then one per value column, then the rows' slots (the lock rows' slot
 * column, which commit copies into versions and latest rows); then the names of the indexes' storages the
 * writer maintains (the index fence, fenceSql); last, the writer's schema
 * and columns fingerprints (the schema version fence, schemaFenceSql). The
 * statement also passes the slots of the rows, which the shard must own
 * (the slot fence, percolator_fence_slots, called in the same statement
 * before the function).
 */

/** The table's prewrite function (created by its migration). */
export function prewriteFunctionName(t: TableSql): string {
  return ident(`${t.meta.name}__prewrite`);
}

function prewriteParamCount(t: TableSql): number {
  return 7 + t.pk.length + t.valueColumns.length;
}

/** The row parameter of the rows' slots (the slot column of the lock rows), after the value columns. */
function slotParam(t: TableSql): number {
  return prewriteParamCount(t);
}

/** The rows' parameters, then the two fence parameters. */
function prewriteArgCount(t: TableSql): number {
  return prewriteParamCount(t) + 2;
}

/**
 * Calls the prewrite function for the rows of several transactions, which
 * must not share a key; returns conflict rows, `i` indexing the rows of
 * all entries in order (none: every lock written). A transaction with a
 * conflict keeps none of its locks of the call; the others keep theirs.
 */
export function prewriteShared(t: TableSql, entries: readonly PrewriteEntry[]): Statement {
  const v = t.valueColumns;
  const columns: unknown[][] = Array.from({ length: prewriteParamCount(t) }, () => []);
  const slots = new Set<number>();
  for (const entry of entries) {
    const start = entry.startTs.toString();
    const primaryKey = toParameter(entry.primaryKey);
    const ttl = String(entry.ttlMs);
    for (const row of entry.rows) {
      columns[0]!.push(start);
      columns[1]!.push(entry.primaryTable);
      columns[2]!.push(primaryKey);
      columns[3]!.push(ttl);
      columns[4]!.push(row.op);
      columns[5]!.push(row.isInsert ? 't' : 'f');
      slots.add(row.slot);
      for (let k = 0; k < t.pk.length; k++) columns[6 + k]!.push(row.keyTexts[k] ?? null);
      for (let c = 0; c < v.length; c++) columns[6 + t.pk.length + c]!.push(row.valueTexts?.[c] ?? null);
      columns[slotParam(t) - 1]!.push(String(row.slot));
    }
  }
  const text = t.statementText('prewrite', () => `select p.* from ${slotFenceSql(prewriteArgCount(t) + 1)} cross join lateral (select * from ${prewriteCallSql(t, 0)} where fence.owned) p`);
  // Then the indexes this writer maintains and its schema (the function's fences compare them with the shard's catalogue); last, the slots.
  return { text, values: [...columns, t.meta.indexes.map((index) => index.storage.name), [t.schemaFingerprint, t.columnsFingerprint], [...slots]] };
}

/** The slot fence, first (lateral: it must run before the prewrite functions), in the same local transaction; `$param` the slots. */
function slotFenceSql(param: number): string {
  return `percolator_fence_slots($${param}::int[]) as fence(owned)`;
}

/** `T__prewrite($n+1::text[], ...)`: one table's call, its parameters after the first `offset`. */
function prewriteCallSql(t: TableSql, offset: number): string {
  const args = Array.from({ length: prewriteArgCount(t) }, (_, i) => `$${offset + i + 1}::text[]`);
  return `${prewriteFunctionName(t)}(${args.join(', ')})`;
}

/** One table's part of a prewrite of several tables: the rows of several transactions, as for prewriteShared. */
export interface TablePrewrite {
  readonly table: TableSql;
  readonly entries: readonly PrewriteEntry[];
}

/** A conflict row of prewriteTables: `piece` indexes the statement's tables, `i` that table's rows. */
export interface PieceConflictRow extends PrewriteConflictRow {
  piece: number;
}

const multiTableTexts = new MultiTableTexts();

/**
 * Prewrite of several tables on one shard in one statement (one round
 * trip, one local transaction): one call of each table's prewrite
 * function, in the order given (callers sort tables by name, so that
 * concurrent statements insert lock rows in one order), under `union
 * all`, after one slot fence for all their rows. Each call keeps its own guarantees: its statements take their
 * own snapshots after its lock inserts, and a transaction with a conflict
 * in a call loses its locks of that call (the caller rolls back the rest,
 * as after a conflict on another shard). One table is prewriteShared.
 */
export function prewriteTables(pieces: readonly TablePrewrite[]): Statement {
  if (pieces.length === 1) return prewriteShared(pieces[0]!.table, pieces[0]!.entries);
  const values: unknown[] = [];
  const offsets: number[] = [];
  const slots = new Set<number>();
  for (const { table, entries } of pieces) {
    offsets.push(values.length);
    const piece = prewriteShared(table, entries).values;
    // Each call's own arguments; the slots (its last value) go to the statement's one fence.
    values.push(...piece.slice(0, -1));
    for (const slot of piece[piece.length - 1] as number[]) slots.add(slot);
  }
  values.push([...slots]);
  const text = multiTableTexts.text(
    pieces.map((p) => p.table),
    [],
    () => {
      const calls = pieces.map((p, n) => `select ${n} as piece, c.* from ${prewriteCallSql(p.table, offsets[n]!)} c where fence.owned`);
      return `select p.* from ${slotFenceSql(values.length)} cross join lateral (${calls.join('\nunion all\n')}) p`;
    },
  );
  return { text, values };
}

/**
 * DDL of the prewrite function (rendered into the table's migration).
 *
 * Fast path first, full check only when something may conflict. Once the
 * insert wrote (inserted or upgraded) a row for every key of the statement
 * (its row count), each key's lock slot holds our row, uncommitted or
 * row-locked by us until this statement commits: nobody else's lock can
 * be there and ours cannot be missing, so of the checks of
 * prewriteCheckSql only the versions (and, for inserts, a live row)
 * remain. They run as small statements of their own, each with a
 * snapshot taken after our inserts. Anything they find (or a key the
 * insert skipped) sends the statement to the full check, again in a newer
 * snapshot, which decides and reports exactly as before (a version found
 * by the fast check may still be no conflict: a rollback marker or a
 * version below for_update_ts on a key we hold a pessimistic lock on).
 * Each transaction with a conflict then loses its locks of the statement.
 */
export function prewriteFunctionSql(t: TableSql): string {
  const params = Array.from({ length: prewriteArgCount(t) }, () => 'text[]');
  const indexes = `$${prewriteParamCount(t) + 1}`;
  const writer = `$${prewriteArgCount(t)}`;
  const keys = t.arrays(7, t.pk.length);
  return `create or replace function ${prewriteFunctionName(t)}(${params.join(', ')})
returns table (i int, kind text, ts text, op text, primary_table text, primary_key text[], expired boolean)
language plpgsql volatile as $prewrite$
#variable_conflict use_column
declare
  -- Named like no user column can be (#variable_conflict use_column).
  __written bigint;
  __found record;
  __conflicting bigint[] := '{}';
  __missing text;
begin
  -- 1. Lock rows; a key locked by anyone is skipped here and reported below.
  ${prewriteInsertSql(t)};
  get diagnostics __written = row_count;
  ${fenceSql(t, indexes)}
  ${schemaFenceSql(t, writer)}
  -- 2. New statements, so new snapshots that follow our inserts.
  if __written = cardinality($1) then
    -- Every slot is ours: only a version at or above start_ts can conflict.
    -- (lateral: an index probe per key whatever the generic plan's estimates)
    perform from unnest($1, ${keys}) as b(s, ${t.keyNames()}) cross join lateral (
      select from ${t.versions} v where ${t.pkMatch('v', 'b')} and v.commit_ts >= b.s::bigint and v.op <> 'lock' limit 1) v limit 1;
    if not found then
      if not ('t' = any($6)) then return; end if;
      -- Inserts: the newest put/del of the key must not be a put.
      perform from unnest($6, ${keys}) as b(ins, ${t.keyNames()}) cross join lateral (
        select v.op from ${t.versions} v where ${t.pkMatch('v', 'b')} and v.op in ('put', 'del') order by v.commit_ts desc limit 1) v
        where b.ins = 't' and v.op = 'put' limit 1;
      if not found then return; end if;
    end if;
  end if;
  for __found in ${prewriteCheckSql(t)} loop
    i := __found.i; kind := __found.kind; ts := __found.ts; op := __found.op;
    primary_table := __found.primary_table; primary_key := __found.primary_key; expired := __found.expired;
    if not (__found.s = any(__conflicting)) then __conflicting := __conflicting || __found.s; end if;
    return next;
  end loop;
  -- 3. A transaction with a conflict leaves nothing behind on this shard.
  if cardinality(__conflicting) > 0 then
    delete from ${t.locks} l using unnest($1, ${keys}) as b(s, ${t.keyNames()})
    where ${t.pkMatch('l', 'b')} and l.start_ts + 0 = b.s::bigint and b.s::bigint = any(__conflicting);
  end if;
end
$prewrite$`;
}

/**
 * The schema fence: every index of the table catalogued on this shard
 * (`index_of`, core migration 0006) must be among those the writer
 * maintains (its last parameter), else the whole call is refused
 * (SQLSTATE PCSV1, SchemaVersionError): a writer that skipped an index's
 * entries would corrupt it. A new statement after the lock inserts, so its
 * snapshot follows them: a migration creating an index takes the locks
 * table in share row exclusive mode first, so a prewrite either committed
 * before (and the migration sees its rows) or checks after the index's
 * catalogue row is committed. Writers may maintain more indexes than the
 * shard has (their migration is under way).
 */
function fenceSql(t: TableSql, indexes: string): string {
  return `select string_agg(c.name, ', ' order by c.name) into __missing from percolator_tables c
    where c.index_of = ${literal(t.meta.name)} and not (c.name = any(${indexes}));
  if __missing is not null then
    raise exception using errcode = 'PCSV1',
      message = format('table %s has indexes that this writer''s schema does not declare: %s', ${literal(t.meta.name)}, __missing);
  end if;`;
}

/**
 * The schema version fence (schema/core/0007-schema-versions.sql): a writer
 * whose declaration of the table is an older version, or whose columns are
 * not the ones stored, is refused (PCSV1, SchemaVersionError naming both
 * versions): an old writer's full row images would drop a new column's
 * values. Like the index fence, a statement after the lock inserts: a
 * migration altering the table holds its storage exclusively, so a prewrite
 * either committed before it or checks its committed catalogue row.
 */
function schemaFenceSql(t: TableSql, writer: string): string {
  const name = literal(t.meta.name);
  // The fence function (a nested PL/pgSQL call) runs only when the writer's declaration is not the stored one.
  return `if exists (select from percolator_tables c where c.name = ${name} and c.schema_fingerprint <> (${writer})[1]) then
    perform percolator_schema_fence(${name}, ${writer});
  end if;`;
}

/**
 * Older prewrite functions of the table (other parameter counts: its columns
 * changed) become stubs that refuse their callers as the fence does, with
 * both versions, instead of leaving them to write the old column list.
 */
export function retirePrewriteOverloadsSql(t: TableSql): string {
  const refuse = (args: string) => `begin perform percolator_refuse_writer(${literal(t.meta.name)}, ${args}); end`;
  return `do $retire$
declare
  __f record;
begin
  for __f in select p.oid::regprocedure as sig, p.pronargs as n from pg_proc p
    where p.proname = ${literal(`${t.meta.name}__prewrite`)} and p.pronamespace = current_schema()::regnamespace and p.pronargs <> ${prewriteArgCount(t)} loop
    execute format('create or replace function %s returns table (i int, kind text, ts text, op text, primary_table text, primary_key text[], expired boolean) language plpgsql as %L',
      __f.sig, replace(${literal(refuse('$N'))}, '$N', '$' || __f.n));
  end loop;
end
$retire$`;
}

/**
 * Writes lock rows; a key already locked by another transaction is
 * skipped by ON CONFLICT and shows up in the check. Our own pessimistic
 * lock (for_update) is upgraded in place to the prewrite lock, keeping its
 * primary, TTL, min_commit_ts and for_update_ts. Waiting on a concurrent
 * uncommitted lock insert of the same key is Postgres's unique index;
 * rows go in key order, so two statements waiting so cannot deadlock.
 */
function prewriteInsertSql(t: TableSql): string {
  const v = t.valueColumns;
  return `insert into ${t.locks} as l (${t.pkList}, start_ts, op, is_insert, primary_table, primary_key, ttl_ms, slot${v.map((c) => `, ${ident(c.name)}`).join('')})
  select ${t.pk.map((c, i) => `b.k${i}::${storageType(c.sqlType)}`).join(', ')}, b.s::bigint, b.op, b.ins::boolean, b.pt, b.pk::text[], b.ttl::bigint, b.slot::smallint${v
    .map((c, i) => `, b.v${i}::${storageType(c.sqlType)}`)
    .join('')}
  from unnest(${t.arrays(1, prewriteParamCount(t))}) as b(s, pt, pk, ttl, op, ins, ${t.keyNames()}${v.map((_, i) => `, v${i}`).join('')}, slot)
  order by ${t.pk.map((c, i) => `b.k${i}::${storageType(c.sqlType)}`).join(', ')}
  on conflict (${t.pkList}) do update set op = excluded.op, is_insert = excluded.is_insert, for_update = false${v.map((c) => `, ${ident(c.name)} = excluded.${ident(c.name)}`).join('')}
    where l.start_ts = excluded.start_ts and l.for_update`;
}

/**
 * Runs after the lock inserts as its own statement, so its snapshot is
 * taken after our locks exist: any writer that committed a version of one
 * of our keys is visible here, and any later writer must first get past
 * our lock. Finds (a) versions with commit_ts >= start_ts, rollback
 * markers included (committed lock-only keys wrote nothing and are
 * skipped; pessimisticThreshold for keys we hold a pessimistic lock on),
 * (b) other transactions' locks, (c) for inserts, a live row, (d) keys where our lock is missing: the insert skipped them
 * (ON CONFLICT) because another lock was there, and that lock went away
 * before this check (rolled back: its marker sits below our start_ts).
 * Without (d) the transaction would commit without a lock, hence without
 * a version, on such a key (a lost write the list-append check found).
 * Each row also names its transaction (s).
 */
function prewriteCheckSql(t: TableSql): string {
  return `with b as (select b.s::bigint as s, b.ins, ${t.keyNames()}, b.i from unnest($1, $6, ${t.arrays(7, t.pk.length)}) with ordinality as b(s, ins, ${t.keyNames()}, i))
  select (b.i - 1)::int as i, b.s, 'version'::text as kind, v.commit_ts::text as ts, v.op, null::text as primary_table, null::text[] as primary_key, null::boolean as expired
  from b cross join lateral (
    select v.commit_ts, v.op from ${t.versions} v where ${t.pkMatch('v', 'b')} and v.commit_ts >= b.s and v.op <> 'lock'
      and ${pessimisticThreshold(t)} order by v.commit_ts desc limit 1) v
  union all
  select (b.i - 1)::int, b.s, 'locked', l.start_ts::text, l.op, l.primary_table, l.primary_key,
    (${lockExpiredSql('l')})
  from b join ${t.locks} l on ${t.pkMatch('l', 'b')} and l.start_ts <> b.s
  union all
  select (b.i - 1)::int, b.s, 'exists', v.commit_ts::text, v.op, null, null, null from b cross join lateral (
    select v.commit_ts, v.op from ${t.versions} v where ${t.pkMatch('v', 'b')} and v.op in ('put', 'del') order by v.commit_ts desc limit 1) v
    where b.ins = 't' and v.op = 'put'
  union all
  select (b.i - 1)::int, b.s, 'unlocked', b.s::text, null, null, null, null from b
    where not exists (select 1 from ${t.locks} l where ${t.pkMatch('l', 'b')} and l.start_ts + 0 = b.s)`;
}

/**
 * On a key we hold a pessimistic lock on (for_update_ts > 0), the locking
 * read returned the newest version and nobody could commit the key since:
 * only a put/del above for_update_ts is a conflict (one can only appear if
 * our lock was lost). Evaluated only for versions at or above start_ts, so
 * optimistic prewrites pay nothing for it.
 */
function pessimisticThreshold(t: TableSql): string {
  return `v.commit_ts > coalesce((select case when v.op in ('put', 'del') then o.for_update_ts else ${MAX_BIGINT} end
      from ${t.locks} o where ${t.pkMatch('o', 'b')} and o.start_ts + 0 = b.s and o.for_update_ts > 0), 0)`;
}
