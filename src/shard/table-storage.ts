import { SchemaError } from '../errors.js';
import type { ColumnMeta, TableMeta } from '../schema/table-meta.js';
import { ident, storageType } from './sql-names.js';
import type { Statement } from './shard-pool.js';

/** Storage columns next to the user's; a user column may not share their names. */
const RESERVED_COLUMNS = new Set([
  'commit_ts', 'start_ts', 'op', 'is_insert', 'for_update', 'primary_table', 'primary_key', 'ttl_ms', 'written_at',
  'min_commit_ts', 'for_update_ts', 'waiting_for_ts', 'waiting_for_table', 'waiting_for_key',
]);

export type KeyTexts = readonly (string | null)[];

const MAX_BIGINT = '9223372036854775807';

/** One row of a batch written to the locks table. */
export interface LockWrite {
  keyTexts: KeyTexts;
  op: 'put' | 'del' | 'lock';
  isInsert: boolean;
  /** Driver texts of the non-key columns, in `valueColumns` order (absent for del/lock). */
  valueTexts?: readonly (string | null)[] | undefined;
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
  // prewriteCheckSql). Parameters: $1 start_ts, $2 primary table, $3 primary
  // key, $4 ttl, $5 ops, $6 insert flags, then one text[] per key column,
  // then one per value column.

  get prewriteFunction(): string {
    return ident(`${this.meta.name}__prewrite`);
  }

  private prewriteParamCount(): number {
    return 6 + this.pk.length + this.valueColumns.length;
  }

  /** Calls the prewrite function for a batch; returns conflict rows (none: every lock written). */
  prewrite(startTs: bigint, primaryTable: string, primaryKey: KeyTexts, ttlMs: number, rows: readonly LockWrite[]): Statement {
    const v = this.valueColumns;
    const values: unknown[] = [
      startTs.toString(),
      primaryTable,
      primaryKey,
      ttlMs,
      rows.map((r) => r.op),
      rows.map((r) => (r.isInsert ? 't' : 'f')),
      ...this.keyColumnsOf(rows.map((r) => r.keyTexts)),
      ...v.map((_, i) => rows.map((r) => r.valueTexts?.[i] ?? null)),
    ];
    const text = this.statementText('prewrite', () => {
      const args = ['$1::bigint', '$2::text', '$3::text[]', '$4::bigint', ...Array.from({ length: this.prewriteParamCount() - 4 }, (_, i) => `$${i + 5}::text[]`)];
      return `select * from ${this.prewriteFunction}(${args.join(', ')})`;
    });
    return { text, values };
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
   */
  prewriteFunctionSql(): string {
    const params = ['bigint', 'text', 'text[]', 'bigint', ...Array.from({ length: this.prewriteParamCount() - 4 }, () => 'text[]')];
    return `create or replace function ${this.prewriteFunction}(${params.join(', ')})
returns table (i int, kind text, ts text, op text, primary_table text, primary_key text[], expired boolean)
language plpgsql volatile as $prewrite$
#variable_conflict use_column
declare
  written bigint;
begin
  -- 1. Lock rows; a key locked by anyone is skipped here and reported below.
  ${this.prewriteInsertSql()};
  get diagnostics written = row_count;
  -- 2. New statements, so new snapshots that follow our inserts.
  if written = cardinality($7) then
    -- Every slot is ours: only a version at or above start_ts can conflict.
    -- (lateral: an index probe per key whatever the generic plan's estimates)
    perform from unnest(${this.arrays(7, this.pk.length)}) as b(${this.keyNames()}) cross join lateral (
      select from ${this.versions} v where ${this.pkMatch('v', 'b')} and v.commit_ts >= $1 and v.op <> 'lock' limit 1) v limit 1;
    if not found then
      if not ('t' = any($6)) then return; end if;
      -- Inserts: the newest put/del of the key must not be a put.
      perform from unnest($6, ${this.arrays(7, this.pk.length)}) as b(ins, ${this.keyNames()}) cross join lateral (
        select v.op from ${this.versions} v where ${this.pkMatch('v', 'b')} and v.op in ('put', 'del') order by v.commit_ts desc limit 1) v
        where b.ins = 't' and v.op = 'put' limit 1;
      if not found then return; end if;
    end if;
  end if;
  return query ${this.prewriteCheckSql()};
  -- 3. Conflict: leave nothing behind on this shard.
  if found then
    delete from ${this.locks} l ${this.keyInBatch('l', 7) ? `where ${this.keyInBatch('l', 7)}` : `using unnest(${this.arrays(7, this.pk.length)}) as b(${this.keyNames()})
    where ${this.pkMatch('l', 'b')}`} and l.start_ts = $1;
  end if;
end
$prewrite$`;
  }

  /**
   * Writes lock rows; a key already locked by another transaction is
   * skipped by ON CONFLICT and shows up in the check. Our own pessimistic
   * lock (for_update) is upgraded in place to the prewrite lock, keeping its
   * primary, TTL, min_commit_ts and for_update_ts. Waiting on a concurrent
   * uncommitted lock insert of the same key is Postgres's unique index.
   */
  private prewriteInsertSql(): string {
    const v = this.valueColumns;
    return `insert into ${this.locks} as l (${this.pkList}, start_ts, op, is_insert, primary_table, primary_key, ttl_ms${v.map((c) => `, ${ident(c.name)}`).join('')})
  select ${this.pk.map((c, i) => `b.k${i}::${storageType(c.sqlType)}`).join(', ')}, $1, b.op, b.ins::boolean, $2, $3, $4${v
      .map((c, i) => `, b.v${i}::${storageType(c.sqlType)}`)
      .join('')}
  from unnest(${this.arrays(5, 2 + this.pk.length + v.length)}) as b(op, ins, ${this.keyNames()}${v.map((_, i) => `, v${i}`).join('')})
  on conflict (${this.pkList}) do update set op = excluded.op, is_insert = excluded.is_insert, for_update = false${v.map((c) => `, ${ident(c.name)} = excluded.${ident(c.name)}`).join('')}
    where l.start_ts = $1 and l.for_update`;
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
   */
  private prewriteCheckSql(): string {
    return `with b as (select * from unnest($6, ${this.arrays(7, this.pk.length)}) with ordinality as b(ins, ${this.keyNames()}, i))
  select (b.i - 1)::int, 'version'::text, v.commit_ts::text, v.op, null::text, null::text[], null::boolean from b cross join lateral (
    select v.commit_ts, v.op from ${this.versions} v where ${this.pkMatch('v', 'b')} and v.commit_ts >= $1 and v.op <> 'lock'
      and ${this.pessimisticThreshold()} order by v.commit_ts desc limit 1) v
  union all
  select (b.i - 1)::int, 'locked', l.start_ts::text, l.op, l.primary_table, l.primary_key,
    (l.written_at + l.ttl_ms * interval '1 millisecond' < clock_timestamp())
  from b join ${this.locks} l on ${this.pkMatch('l', 'b')} and l.start_ts <> $1
  union all
  select (b.i - 1)::int, 'exists', v.commit_ts::text, v.op, null, null, null from b cross join lateral (
    select v.commit_ts, v.op from ${this.versions} v where ${this.pkMatch('v', 'b')} and v.op in ('put', 'del') order by v.commit_ts desc limit 1) v
    where b.ins = 't' and v.op = 'put'
  union all
  select (b.i - 1)::int, 'unlocked', $1::text, null, null, null, null from b
    where not exists (select 1 from ${this.locks} l where ${this.pkMatch('l', 'b')} and l.start_ts = $1)
  limit 20`;
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
      from ${this.locks} o where ${this.pkMatch('o', 'b')} and o.start_ts = $1 and o.for_update_ts > 0), 0)`;
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
   * Commits all keys of a single-shard transaction in one statement, guarded
   * by its primary (a key of this table, among `keys`): the primary's lock is
   * row-locked first (a resolver deciding about it waits, or has already
   * removed it); if it is gone nothing is committed (rowCount 0).
   */
  commitKeysGuarded(startTs: bigint, commitTs: bigint, keys: readonly KeyTexts[], primaryKey: KeyTexts): Statement {
    const v = this.valueColumns;
    const cols = [...this.pk, ...v].map((c) => ident(c.name)).join(', ');
    const guardParam = 3 + this.pk.length;
    const inBatch = this.keyInBatch('l', 3);
    const text = this.statementText('commitKeysGuarded', () => `with p as (select 1 from ${this.locks} l where ${this.pkEqualsParam('l', guardParam)} and l.start_ts = $1::bigint and l.min_commit_ts <= $2::bigint and not l.for_update for update),
${inBatch
  ? `del as (delete from ${this.locks} l where ${inBatch}`
  : `b as (select * from unnest(${this.arrays(3, this.pk.length)}) as b(${this.keyNames()})),
del as (delete from ${this.locks} l using b where ${this.pkMatch('l', 'b')}`} and l.start_ts = $1::bigint and exists (select 1 from p)
  returning ${this.committedColumns('l')}),
${this.latestUpsertSql('$2::bigint')}
insert into ${this.versions} (${cols}, commit_ts, start_ts, op)
select ${cols}, $2::bigint, $1::bigint, del.op from del where del.op <> 'rollback' and not del.for_update`);
    return { text, values: [startTs.toString(), commitTs.toString(), ...this.keyColumnsOf(keys), primaryKey] };
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
