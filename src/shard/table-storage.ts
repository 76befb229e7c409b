import { SchemaError } from '../errors.js';
import type { ColumnMeta, TableMeta } from '../schema/table-meta.js';
import { toParameter } from './driver-values.js';
import { hasStableKeyText } from './key-text.js';
import { ident, storageType } from './sql-names.js';
import type { Statement } from './shard-pool.js';

/** Storage columns next to the user's; a user column may not share their names. */
const RESERVED_COLUMNS = new Set([
  'commit_ts', 'start_ts', 'op', 'is_insert', 'for_update', 'primary_table', 'primary_key', 'ttl_ms', 'written_at',
  'min_commit_ts', 'for_update_ts', 'waiting_for_ts', 'waiting_for_table', 'waiting_for_key',
]);

export type KeyTexts = readonly (string | null)[];

const MAX_BIGINT = '9223372036854775807';

/** commitBatch: up to this many keys, each finds its entry by array_position (see commitBatchDeleteSql). */
const POSITION_LOOKUP_MAX_KEYS = 64;

/** One row of a batch written to the locks table. */
export interface LockWrite {
  keyTexts: KeyTexts;
  op: 'put' | 'del' | 'lock';
  isInsert: boolean;
  /** Driver texts of the non-key columns, in `valueColumns` order (absent for del/lock). */
  valueTexts?: readonly (string | null)[] | undefined;
}

/** One transaction's rows in a prewriteBatch. */
export interface PrewriteEntry {
  readonly startTs: bigint;
  readonly primaryTable: string;
  readonly primaryKey: KeyTexts;
  readonly ttlMs: number;
  readonly rows: readonly LockWrite[];
}

/** One transaction's keys in a commitBatch. */
export interface CommitBatchEntry {
  readonly startTs: bigint;
  readonly commitTs: bigint;
  readonly keys: readonly KeyTexts[];
  /** Commit only if the lock of the first key (the primary) is still ours and not pushed past commitTs. */
  readonly guarded: boolean;
}

export interface PrewriteConflictRow {
  /** Index of the key in the batch. */
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
 * Every statement the protocol runs against one user table's storage
 * (`T__versions`, `T__locks`). Batches travel as one `text[]` per column,
 * unnested and cast in SQL, so each statement's text is fixed per table and
 * is prepared once per connection whatever the batch size.
 */
export class TableStorage {
  readonly pk: readonly ColumnMeta[];
  readonly valueColumns: readonly ColumnMeta[];
  readonly versions: string;
  readonly locks: string;
  /** Each key's newest committed put/del (reads by scans). */
  readonly latest: string;
  readonly alias: string;
  private readonly pkList: string;

  constructor(readonly meta: TableMeta) {
    for (const c of meta.columns) {
      if (RESERVED_COLUMNS.has(c.name) || c.name.startsWith('__')) {
        throw new SchemaError(`table ${meta.name}: column name ${c.name} is reserved by percolator's storage (${[...RESERVED_COLUMNS].join(', ')}, __*)`);
      }
    }
    this.pk = meta.primaryKey;
    this.valueColumns = meta.columns.filter((c) => !meta.primaryKey.includes(c));
    this.versions = ident(meta.versionsTable);
    this.locks = ident(meta.locksTable);
    this.latest = ident(meta.latestTable);
    this.alias = ident(meta.name);
    this.pkList = this.pk.map((c) => ident(c.name)).join(', ');
  }

  private readonly texts = new Map<string, string>();

  /**
   * A statement's text, built once per table and `name`: the same string
   * object on every call, so the pool's prepared-statement lookup hashes it
   * once, and no per-call garbage. Also for statements on this table built
   * elsewhere (point-read.ts).
   */
  statementText(name: string, build: () => string): string {
    let text = this.texts.get(name);
    if (text === undefined) {
      text = build();
      this.texts.set(name, text);
    }
    return text;
  }

  /** `"a" = b.k0::integer and ...` */
  private pkMatch(tableAlias: string, batchAlias: string): string {
    return this.pk.map((c, i) => `${tableAlias}.${ident(c.name)} = ${batchAlias}.k${i}::${storageType(c.sqlType)}`).join(' and ');
  }

  /** `"a" = ($n::text[])[1]::integer and ...` for one key passed as a text[] parameter. */
  private pkEqualsParam(tableAlias: string, param: number): string {
    return this.pk
      .map((c, i) => `${tableAlias}.${ident(c.name)} = ($${param}::text[])[${i + 1}]::${storageType(c.sqlType)}`)
      .join(' and ');
  }

  private pkFromParam(param: number): string {
    return this.pk.map((c, i) => `($${param}::text[])[${i + 1}]::${storageType(c.sqlType)}`).join(', ');
  }

  private arrays(from: number, count: number): string {
    return Array.from({ length: count }, (_, i) => `$${from + i}::text[]`).join(', ');
  }

  private keyNames(): string {
    return this.pk.map((_, i) => `k${i}`).join(', ');
  }

  private keyColumnsOf(keys: readonly KeyTexts[]): (string | null)[][] {
    return this.pk.map((_, i) => keys.map((k) => k[i] ?? null));
  }

  /**
   * `l."id" = any($n::text[]::integer[])`: the rows of `alias` whose key is
   * in the batch, for a one-column key (not of an array type). A plain
   * index or table scan: no join with the unnested batch, whose generic
   * plan is often a hash join, and a hash join's 32 kB chunk is a malloc
   * and a trim (an munmap, with TLB shootdowns on this VM) per execution.
   * Undefined for composite keys: they join `unnest(...)` as before.
   */
  private keyInBatch(alias: string, param: number): string | undefined {
    if (this.pk.length !== 1) return undefined;
    const c = this.pk[0]!;
    const type = storageType(c.sqlType);
    if (type.trim().endsWith(']')) return undefined;
    return `${alias}.${ident(c.name)} = any($${param}::text[]::${type}[])`;
  }

  /** The columns a commit moves from a lock row into its version, plus op and for_update. */
  private committedColumns(alias: string): string {
    return [...this.pk, ...this.valueColumns].map((c) => `${alias}.${ident(c.name)}`).concat([`${alias}.op`, `${alias}.for_update`]).join(', ');
  }

  // ---- prewrite -----------------------------------------------------------
  //
  // Prewrite runs as one call of a per-table PL/pgSQL function (created by
  // the table's migration): one round trip, one statement, and inside it two
  // statements with their own snapshots, which the protocol needs (see
  // prewriteCheckSql). One call can prewrite several transactions (a batch
  // of concurrent ones, prewrite-batcher). Parameters, one text[] each with
  // an element per row: $1 start_ts, $2 primary table, $3 primary key (an
  // array literal), $4 ttl, $5 op, $6 insert flag, then one per key column,
  // then one per value column.

  get prewriteFunction(): string {
    return ident(`${this.meta.name}__prewrite`);
  }

  private prewriteParamCount(): number {
    return 6 + this.pk.length + this.valueColumns.length;
  }

  /** Calls the prewrite function for one transaction's rows (prewriteBatch of one). */
  prewrite(startTs: bigint, primaryTable: string, primaryKey: KeyTexts, ttlMs: number, rows: readonly LockWrite[]): Statement {
    return this.prewriteBatch([{ startTs, primaryTable, primaryKey, ttlMs, rows }]);
  }

  /**
   * Calls the prewrite function for the rows of several transactions, which
   * must not share a key; returns conflict rows, `i` indexing the rows of
   * all entries in order (none: every lock written). A transaction with a
   * conflict keeps none of its locks of the call; the others keep theirs.
   */
  prewriteBatch(entries: readonly PrewriteEntry[]): Statement {
    const v = this.valueColumns;
    const columns: unknown[][] = Array.from({ length: this.prewriteParamCount() }, () => []);
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
        for (let k = 0; k < this.pk.length; k++) columns[6 + k]!.push(row.keyTexts[k] ?? null);
        for (let c = 0; c < v.length; c++) columns[6 + this.pk.length + c]!.push(row.valueTexts?.[c] ?? null);
      }
    }
    const text = this.statementText('prewrite', () => {
      const args = Array.from({ length: this.prewriteParamCount() }, (_, i) => `$${i + 1}::text[]`);
      return `select * from ${this.prewriteFunction}(${args.join(', ')})`;
    });
    return { text, values: columns };
  }

  /**
   * DDL of the prewrite function (rendered into the table's migration).
   *
   * Fast path first, full check only when something may conflict. Once the
   * insert wrote (inserted or upgraded) a row for every key of the batch
   * (its row count), each key's lock slot holds our row, uncommitted or
   * row-locked by us until this statement commits: nobody else's lock can
   * be there and ours cannot be missing, so of the checks of
   * prewriteCheckSql only the versions (and, for inserts, a live row)
   * remain. They run as small statements of their own, each with a
   * snapshot taken after our inserts. Anything they find (or a key the
   * insert skipped) sends the batch to the full check, again in a newer
   * snapshot, which decides and reports exactly as before (a version found
   * by the fast check may still be no conflict: a rollback marker or a
   * version below for_update_ts on a key we hold a pessimistic lock on).
   * Each transaction with a conflict then loses its locks of the batch.
   */
  prewriteFunctionSql(): string {
    const params = Array.from({ length: this.prewriteParamCount() }, () => 'text[]');
    const keys = this.arrays(7, this.pk.length);
    return `create or replace function ${this.prewriteFunction}(${params.join(', ')})
returns table (i int, kind text, ts text, op text, primary_table text, primary_key text[], expired boolean)
language plpgsql volatile as $prewrite$
#variable_conflict use_column
declare
  -- Named like no user column can be (#variable_conflict use_column).
  __written bigint;
  __found record;
  __conflicting bigint[] := '{}';
begin
  -- 1. Lock rows; a key locked by anyone is skipped here and reported below.
  ${this.prewriteInsertSql()};
  get diagnostics __written = row_count;
  -- 2. New statements, so new snapshots that follow our inserts.
  if __written = cardinality($1) then
    -- Every slot is ours: only a version at or above start_ts can conflict.
    -- (lateral: an index probe per key whatever the generic plan's estimates)
    perform from unnest($1, ${keys}) as b(s, ${this.keyNames()}) cross join lateral (
      select from ${this.versions} v where ${this.pkMatch('v', 'b')} and v.commit_ts >= b.s::bigint and v.op <> 'lock' limit 1) v limit 1;
    if not found then
      if not ('t' = any($6)) then return; end if;
      -- Inserts: the newest put/del of the key must not be a put.
      perform from unnest($6, ${keys}) as b(ins, ${this.keyNames()}) cross join lateral (
        select v.op from ${this.versions} v where ${this.pkMatch('v', 'b')} and v.op in ('put', 'del') order by v.commit_ts desc limit 1) v
        where b.ins = 't' and v.op = 'put' limit 1;
      if not found then return; end if;
    end if;
  end if;
  for __found in ${this.prewriteCheckSql()} loop
    i := __found.i; kind := __found.kind; ts := __found.ts; op := __found.op;
    primary_table := __found.primary_table; primary_key := __found.primary_key; expired := __found.expired;
    if not (__found.s = any(__conflicting)) then __conflicting := __conflicting || __found.s; end if;
    return next;
  end loop;
  -- 3. A transaction with a conflict leaves nothing behind on this shard.
  if cardinality(__conflicting) > 0 then
    delete from ${this.locks} l using unnest($1, ${keys}) as b(s, ${this.keyNames()})
    where ${this.pkMatch('l', 'b')} and l.start_ts + 0 = b.s::bigint and b.s::bigint = any(__conflicting);
  end if;
end
$prewrite$`;
  }

  /**
   * Writes lock rows; a key already locked by another transaction is
   * skipped by ON CONFLICT and shows up in the check. Our own pessimistic
   * lock (for_update) is upgraded in place to the prewrite lock, keeping its
   * primary, TTL, min_commit_ts and for_update_ts. Waiting on a concurrent
   * uncommitted lock insert of the same key is Postgres's unique index;
   * rows go in key order, so two batches waiting so cannot deadlock.
   */
  private prewriteInsertSql(): string {
    const v = this.valueColumns;
    return `insert into ${this.locks} as l (${this.pkList}, start_ts, op, is_insert, primary_table, primary_key, ttl_ms${v.map((c) => `, ${ident(c.name)}`).join('')})
  select ${this.pk.map((c, i) => `b.k${i}::${storageType(c.sqlType)}`).join(', ')}, b.s::bigint, b.op, b.ins::boolean, b.pt, b.pk::text[], b.ttl::bigint${v
      .map((c, i) => `, b.v${i}::${storageType(c.sqlType)}`)
      .join('')}
  from unnest(${this.arrays(1, this.prewriteParamCount())}) as b(s, pt, pk, ttl, op, ins, ${this.keyNames()}${v.map((_, i) => `, v${i}`).join('')})
  order by ${this.pk.map((c, i) => `b.k${i}::${storageType(c.sqlType)}`).join(', ')}
  on conflict (${this.pkList}) do update set op = excluded.op, is_insert = excluded.is_insert, for_update = false${v.map((c) => `, ${ident(c.name)} = excluded.${ident(c.name)}`).join('')}
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
  private prewriteCheckSql(): string {
    return `with b as (select b.s::bigint as s, b.ins, ${this.keyNames()}, b.i from unnest($1, $6, ${this.arrays(7, this.pk.length)}) with ordinality as b(s, ins, ${this.keyNames()}, i))
  select (b.i - 1)::int as i, b.s, 'version'::text as kind, v.commit_ts::text as ts, v.op, null::text as primary_table, null::text[] as primary_key, null::boolean as expired
  from b cross join lateral (
    select v.commit_ts, v.op from ${this.versions} v where ${this.pkMatch('v', 'b')} and v.commit_ts >= b.s and v.op <> 'lock'
      and ${this.pessimisticThreshold()} order by v.commit_ts desc limit 1) v
  union all
  select (b.i - 1)::int, b.s, 'locked', l.start_ts::text, l.op, l.primary_table, l.primary_key,
    (l.written_at + l.ttl_ms * interval '1 millisecond' < clock_timestamp())
  from b join ${this.locks} l on ${this.pkMatch('l', 'b')} and l.start_ts <> b.s
  union all
  select (b.i - 1)::int, b.s, 'exists', v.commit_ts::text, v.op, null, null, null from b cross join lateral (
    select v.commit_ts, v.op from ${this.versions} v where ${this.pkMatch('v', 'b')} and v.op in ('put', 'del') order by v.commit_ts desc limit 1) v
    where b.ins = 't' and v.op = 'put'
  union all
  select (b.i - 1)::int, b.s, 'unlocked', b.s::text, null, null, null, null from b
    where not exists (select 1 from ${this.locks} l where ${this.pkMatch('l', 'b')} and l.start_ts + 0 = b.s)`;
  }

  /**
   * On a key we hold a pessimistic lock on (for_update_ts > 0), the locking
   * read returned the newest version and nobody could commit the key since:
   * only a put/del above for_update_ts is a conflict (one can only appear if
   * our lock was lost). Evaluated only for versions at or above start_ts, so
   * optimistic prewrites pay nothing for it.
   */
  private pessimisticThreshold(): string {
    return `v.commit_ts > coalesce((select case when v.op in ('put', 'del') then o.for_update_ts else ${MAX_BIGINT} end
      from ${this.locks} o where ${this.pkMatch('o', 'b')} and o.start_ts + 0 = b.s and o.for_update_ts > 0), 0)`;
  }

  // ---- commit / roll forward ----------------------------------------------

  /**
   * Moves the pending images of `startTs`'s locks on these keys into
   * versions at `commitTs`, and into the keys' latest rows, in one statement
   * (one local transaction): for a reader at any snapshot either the lock or
   * the version is there, never neither, and the latest row with it. Keys
   * whose lock is gone are skipped, so replays are no-ops.
   * Pessimistic lock rows never prewritten (for_update: locked, not written)
   * are released without a version; as the primary that means its prewrite
   * was lost (nothing is committed: rowCount 0).
   */
  commitKeys(startTs: bigint, commitTs: bigint, keys: readonly KeyTexts[]): Statement {
    const v = this.valueColumns;
    const cols = [...this.pk, ...v].map((c) => ident(c.name)).join(', ');
    const inBatch = this.keyInBatch('l', 3);
    const text = this.statementText('commitKeys', () => `${inBatch
      ? `with del as (delete from ${this.locks} l where ${inBatch}`
      : `with b as (select * from unnest(${this.arrays(3, this.pk.length)}) as b(${this.keyNames()})),
del as (delete from ${this.locks} l using b where ${this.pkMatch('l', 'b')}`} and l.start_ts = $1::bigint and l.min_commit_ts <= $2::bigint
  returning ${this.committedColumns('l')}),
${this.latestUpsertSql('$2::bigint')}
insert into ${this.versions} (${cols}, commit_ts, start_ts, op)
select ${cols}, $2::bigint, $1::bigint, del.op from del where del.op <> 'rollback' and not del.for_update`);
    return { text, values: [startTs.toString(), commitTs.toString(), ...this.keyColumnsOf(keys)] };
  }

  /**
   * Commits keys of several transactions in one statement (one local
   * transaction, one WAL flush). A `guarded: false` entry (secondaries)
   * commits like commitKeys. A guarded one (a commitPrimary) commits all its
   * keys or none: its first key, the primary, has its lock row-locked
   * first (a resolver deciding about it waits, or has already removed it),
   * and if that lock is gone, pushed past commitTs, or a pessimistic lock
   * never prewritten, nothing of the entry is committed. Returns one row per transaction that wrote versions: its start_ts and
   * how many. Entries must not share a key (no two transactions hold a lock
   * on one key at once, so concurrent commits never do). The guarded
   * primaries are row-locked first, all of them and in key order, as
   * pushPrimaries locks them, so the two cannot deadlock (a probe per key:
   * FOR UPDATE keeps Postgres from flattening the lateral into a join). (`start_ts + 0`,
   * here and wherever start_ts is compared with a per-row value: the plan
   * must probe the key, not the start_ts index, which would filter every
   * lock of a large transaction once per key.)
   */
  commitBatch(entries: readonly CommitBatchEntry[]): Statement {
    const v = this.valueColumns;
    const cols = [...this.pk, ...v].map((c) => ident(c.name)).join(', ');
    const starts: string[] = [];
    const commits: string[] = [];
    const guards: string[] = [];
    const firsts: string[] = [];
    const keys: KeyTexts[] = [];
    for (const entry of entries) {
      const start = entry.startTs.toString();
      const commit = entry.commitTs.toString();
      for (const [i, key] of entry.keys.entries()) {
        starts.push(start);
        commits.push(commit);
        guards.push(entry.guarded ? 't' : 'f');
        firsts.push(i === 0 ? 't' : 'f');
        keys.push(key);
      }
    }
    // Small batches (nearly all) find their entry by position; large ones join (array_position is linear),
    // and so do keys whose distinct texts may be equal values (char(n), floats): position would find the wrong entry.
    const byPosition = keys.length <= POSITION_LOOKUP_MAX_KEYS && this.pk.every(hasStableKeyText);
    const text = this.statementText(byPosition ? 'commitBatch' : 'commitBatchJoin', () => `with b as (select b.s::bigint as s, b.c::bigint as c, b.g::boolean as g, b.f::boolean as f, ${this.keyNames()}
  from unnest(${this.arrays(1, 4 + this.pk.length)}) as b(s, c, g, f, ${this.keyNames()})),
p as materialized (select l.start_ts from (select * from b where b.g and b.f order by ${this.pk.map((c, i) => `b.k${i}::${storageType(c.sqlType)}`).join(', ')}) b
  cross join lateral (select l.start_ts from ${this.locks} l where ${this.pkMatch('l', 'b')} and l.start_ts + 0 = b.s
    and l.min_commit_ts <= b.c and not l.for_update for update) l),
${this.commitBatchDeleteSql(byPosition)},
${this.latestUpsertSql('del.__commit_ts')},
ins as (insert into ${this.versions} (${cols}, commit_ts, start_ts, op)
  select ${cols}, del.__commit_ts, del.__start_ts, del.op from del where del.op <> 'rollback' and not del.for_update returning start_ts)
select start_ts::text as start_ts, count(*)::int as written from ins group by start_ts`);
    return { text, values: [starts, commits, guards, firsts, ...this.keyColumnsOf(keys)] };
  }

  /**
   * commitBatch's CTE `del`: the batch's lock rows, once `p` has locked the
   * guarded primaries. In a small batch a one-column key finds its rows
   * with `= any()` and its entry by position (keys of one batch are
   * distinct): no join, whose generic plan may hash the batch and scan
   * every lock row, dead ones too. A large batch joins: there a hash is
   * the right plan, and a lookup by position per row would be quadratic.
   */
  private commitBatchDeleteSql(byPosition: boolean): string {
    const tail = (entry: (column: string) => string) => `and (select count(*) from p) >= 0
  and case when ${entry('g')} then l.start_ts in (select start_ts from p) else l.min_commit_ts <= ${entry('c')} end
  returning ${this.committedColumns('l')}, ${entry('c')} as __commit_ts, l.start_ts as __start_ts)`;
    const inBatch = this.keyInBatch('l', 5);
    if (inBatch && byPosition) {
      const key = this.pk[0]!;
      const at = `[array_position($5::text[]::${storageType(key.sqlType)}[], l.${ident(key.name)})]`;
      const entry = (column: string) => ({ s: `($1::text[])${at}::bigint`, c: `($2::text[])${at}::bigint`, g: `($3::text[])${at} = 't'` })[column]!;
      return `del as (delete from ${this.locks} l where ${inBatch} and l.start_ts = ${entry('s')}
  ${tail(entry)}`;
    }
    return `del as (delete from ${this.locks} l using b where ${this.pkMatch('l', 'b')} and l.start_ts + 0 = b.s
  ${tail((column) => `b.${column}`)}`;
  }

  /** CTE `up`: each committed put/del of `del` becomes its key's latest row. */
  private latestUpsertSql(commitTs: string): string {
    const v = this.valueColumns;
    return `up as (insert into ${this.latest} as n (${this.pkList}, commit_ts, op${v.map((c) => `, ${ident(c.name)}`).join('')})
  select ${this.pkList}, ${commitTs}, del.op${v.map((c) => `, ${ident(c.name)}`).join('')} from del where del.op in ('put', 'del') and not del.for_update
  on conflict (${this.pkList}) do update set commit_ts = excluded.commit_ts, op = excluded.op${v.map((c) => `, ${ident(c.name)} = excluded.${ident(c.name)}`).join('')}
  where n.commit_ts < excluded.commit_ts)`;
  }

  /**
   * A reader at `readTs` met live locks of these transactions, whose primary
   * keys are in this table on this shard: raise each primary lock's
   * min_commit_ts to `minCommitTs` (readTs + 1) so that its owner can only
   * commit after the reader's snapshot. Serializes with commitPrimary on each
   * lock row; the rows are locked in key order, so two readers pushing the
   * same owners cannot deadlock. One row per transaction: `pushed`, or else what peekPrimary
   * would say (its lock is gone, expired or a resolver's placeholder), so
   * the caller decides the rest without another round trip. Those two
   * lookups are gated inside their subqueries (a one-time filter), so a
   * pushed transaction costs no probe of versions or locks; a version of L
   * has commit_ts >= L's start_ts (a rollback marker: equal), which bounds
   * the probe of the key's history to what L could have written.
   */
  pushPrimaries(minCommitTs: bigint, primaries: readonly { startTs: bigint; key: KeyTexts }[]): Statement {
    const text = this.statementText('pushPrimaries', () => `with b as (select * from unnest(${this.arrays(2, 1 + this.pk.length)}) as b(s, ${this.keyNames()})),
target as (select ${this.pk.map((c) => `l.${ident(c.name)}`).join(', ')}, l.start_ts from ${this.locks} l join b on ${this.pkMatch('l', 'b')} and l.start_ts = b.s::bigint
  where l.op <> 'rollback' and l.written_at + l.ttl_ms * interval '1 millisecond' >= clock_timestamp()
  order by ${this.pk.map((c) => `l.${ident(c.name)}`).join(', ')} for no key update of l),
pushed as (update ${this.locks} l set min_commit_ts = greatest(l.min_commit_ts, $1::bigint) from target t
  where ${this.pk.map((c) => `l.${ident(c.name)} = t.${ident(c.name)}`).join(' and ')} and l.start_ts = t.start_ts
  returning l.start_ts)
select b.s as start_ts, p.start_ts is not null as pushed, v.commit_ts::text as commit_ts, v.op as version_op, l.start_ts is not null as locked,
  (l.written_at + l.ttl_ms * interval '1 millisecond' < clock_timestamp()) as expired,
  greatest(0, l.ttl_ms - extract(epoch from clock_timestamp() - l.written_at) * 1000)::float8 as remaining_ms
from b left join pushed p on p.start_ts = b.s::bigint
left join lateral (select commit_ts, op from ${this.versions} v where p.start_ts is null and ${this.pkMatch('v', 'b')} and v.commit_ts >= b.s::bigint
  and v.start_ts = b.s::bigint order by (v.op = 'rollback') limit 1) v on true
left join lateral (select start_ts, written_at, ttl_ms from ${this.locks} l where p.start_ts is null and ${this.pkMatch('l', 'b')} and l.start_ts = b.s::bigint limit 1) l on true`);
    return {
      text,
      values: [minCommitTs.toString(), primaries.map((p) => p.startTs.toString()), ...this.keyColumnsOf(primaries.map((p) => p.key))],
    };
  }

  /** min_commit_ts of `startTs`'s lock on this key, if the lock is there. */
  lockMinCommitTs(startTs: bigint, key: KeyTexts): Statement {
    return {
      text: `select min_commit_ts::text as min_commit_ts from ${this.locks} l where ${this.pkEqualsParam('l', 2)} and l.start_ts = $1::bigint`,
      values: [startTs.toString(), key],
    };
  }

  /**
   * Did `startTs` commit this key? (its version, or a rollback marker, by
   * start_ts). commit_ts >= start_ts for every version (commit_ts comes
   * from the oracle after start_ts; a marker sits at start_ts), so only
   * that end of the key's history is read.
   */
  versionByStartTs(startTs: bigint, key: KeyTexts): Statement {
    return {
      text: `select commit_ts::text as commit_ts, op from ${this.versions} v where ${this.pkEqualsParam('v', 2)} and v.commit_ts >= $1::bigint and v.start_ts = $1::bigint
  order by (v.op = 'rollback') limit 1`,
      values: [startTs.toString(), key],
    };
  }

  // ---- rollback -------------------------------------------------------------

  /**
   * Deletes `startTs`'s locks on these keys and writes a rollback marker
   * (commit_ts = start_ts) where asked, so a late prewrite or commit of that
   * transaction on the key fails its conflict check.
   */
  rollbackKeys(startTs: bigint, keys: readonly KeyTexts[], markers: readonly boolean[]): Statement {
    const inBatch = this.keyInBatch('l', 3);
    const text = this.statementText('rollbackKeys', () => `with b as (select * from unnest(${this.arrays(2, 1 + this.pk.length)}) as b(m, ${this.keyNames()})),
del as (delete from ${this.locks} l ${inBatch ? `where ${inBatch}` : `using b where ${this.pkMatch('l', 'b')}`} and l.start_ts = $1::bigint returning 1)
insert into ${this.versions} (${this.pkList}, commit_ts, start_ts, op)
select ${this.pk.map((c, i) => `b.k${i}::${storageType(c.sqlType)}`).join(', ')}, $1::bigint, $1::bigint, 'rollback' from b where b.m = 't'
on conflict do nothing`);
    return { text, values: [startTs.toString(), markers.map((m) => (m ? 't' : 'f')), ...this.keyColumnsOf(keys)] };
  }

  // ---- transaction status at the primary --------------------------------------

  /**
   * Read-only look at a transaction's primary, without row locks: its
   * version (by start_ts) and its lock, if any. Enough to decide the final
   * outcomes and "alive"; only an expired or missing lock needs the locked
   * slot (lockPrimarySlot).
   */
  peekPrimary(startTs: bigint, key: KeyTexts): Statement {
    return {
      text: `select v.commit_ts::text as commit_ts, v.op as version_op, l.start_ts is not null as locked,
  (l.written_at + l.ttl_ms * interval '1 millisecond' < clock_timestamp()) as expired,
  greatest(0, l.ttl_ms - extract(epoch from clock_timestamp() - l.written_at) * 1000)::float8 as remaining_ms
from (select 1) one
left join lateral (select commit_ts, op from ${this.versions} v where ${this.pkEqualsParam('v', 2)} and v.commit_ts >= $1::bigint and v.start_ts = $1::bigint
  order by (v.op = 'rollback') limit 1) v on true
left join lateral (select start_ts, written_at, ttl_ms from ${this.locks} l where ${this.pkEqualsParam('l', 2)} and l.start_ts = $1::bigint) l on true`,
      values: [startTs.toString(), key],
    };
  }

  /**
   * Locks the primary key's lock slot: returns L's lock row if present, or
   * another transaction's, or inserts an uncommitted placeholder
   * (op 'rollback') when the slot is empty. Either way the slot's row is
   * locked until the status transaction ends, so commitPrimary of L and a
   * concurrent prewrite of L's primary wait for the decision.
   */
  lockPrimarySlot(startTs: bigint, key: KeyTexts): Statement {
    return {
      text: `insert into ${this.locks} as l (${this.pkList}, start_ts, op, primary_table, primary_key, ttl_ms)
values (${this.pkFromParam(2)}, $1::bigint, 'rollback', '', '{}', 0)
on conflict (${this.pkList}) do update set op = l.op
returning l.start_ts::text as start_ts, l.op, (l.xmax = 0) as inserted,
  (l.written_at + l.ttl_ms * interval '1 millisecond' < clock_timestamp()) as expired,
  greatest(0, l.ttl_ms - extract(epoch from clock_timestamp() - l.written_at) * 1000)::float8 as remaining_ms`,
      values: [startTs.toString(), key],
    };
  }

  deleteLock(startTs: bigint, key: KeyTexts): Statement {
    return { text: `delete from ${this.locks} l where ${this.pkEqualsParam('l', 2)} and l.start_ts = $1::bigint`, values: [startTs.toString(), key] };
  }

  writeRollbackMarker(startTs: bigint, key: KeyTexts): Statement {
    return {
      text: `insert into ${this.versions} (${this.pkList}, commit_ts, start_ts, op) values (${this.pkFromParam(2)}, $1::bigint, $1::bigint, 'rollback') on conflict do nothing`,
      values: [startTs.toString(), key],
    };
  }

  /** TTL refresh of the primary lock; never lowers the TTL. */
  heartbeat(startTs: bigint, key: KeyTexts, ttlMs: number): Statement {
    return {
      text: `update ${this.locks} l set ttl_ms = greatest(l.ttl_ms, (extract(epoch from clock_timestamp() - l.written_at) * 1000)::bigint + $3::bigint)
where ${this.pkEqualsParam('l', 2)} and l.start_ts = $1::bigint returning ttl_ms::text`,
      values: [startTs.toString(), key, ttlMs],
    };
  }
}
