import { slotOfKey } from './shard-of.js';
import { lockExpiredSql, lockLiveSql } from './lock-ttl.js';
import type { Statement } from './shard-pool.js';
import { ident, storageType } from '../schema/sql-names.js';
import type { KeyTexts } from './key-text.js';
import type { TableSql } from './table-sql.js';

/** One key's answer from the lock function (plus the user's columns, by SQL name). */
export interface LockKeyRow {
  /** Index of the key in the statement. */
  __i: number;
  /** ok: we hold the lock; locked: another transaction does; retry: the slot was taken and freed meanwhile; rolled-back: our own rollback marker is there. */
  __status: 'ok' | 'locked' | 'retry' | 'rolled-back';
  __holder: string | null;
  __holder_table: string | null;
  __holder_key: string[] | null;
  __expired: boolean | null;
  /** commit_ts of the newest put/del version (null: never written). */
  __commit_ts: string | null;
  /** 'put' when a row image follows (the newest version, or our own buffered image). */
  __op: string | null;
  /** The row matches the read's filter (and exists). */
  __match: boolean;
  [column: string]: unknown;
}

/** A holder's recorded wait (on its primary lock row), for deadlock detection. */
export interface WaitEdgeRow {
  waiting_for_ts: string | null;
  waiting_for_table: string | null;
  waiting_for_key: string[] | null;
}

/** The rendered filter of a locking read and the transaction's buffered images of the table on the shard. */
export interface LockReadShape {
  /** drizzle's rendered filter over the user's table name, with its $1..$n params. */
  readonly where?: { readonly sql: string; readonly params: readonly unknown[] } | undefined;
  /** Own buffered writes of these keys: key texts, value texts, op. Their image replaces the committed one. */
  readonly buffered: readonly { keyTexts: KeyTexts; valueTexts?: readonly (string | null)[] | undefined; op: string }[];
}

/**
 * The statements of pessimistic locking on one user table's storage: the
 * lock function (created by the table's migration), its call with the
 * read's filter, releasing our lock-only rows, and the wait records that
 * deadlock detection follows.
 */
export class PessimisticLockStatements {
  constructor(private readonly storage: TableSql) {}

  get lockFunction(): string {
    return ident(`${this.storage.meta.name}__lock_keys`);
  }

  private get pk() {
    return this.storage.pk;
  }

  private pkMatch(a: string, b: string, cast: boolean): string {
    return this.pk.map((c, i) => `${a}.${ident(c.name)} = ${b}.${cast ? `k${i}::${storageType(c.sqlType)}` : ident(c.name)}`).join(' and ');
  }

  private keyParams(from: number): string {
    return this.pk.map((_, i) => `$${from + i}::text[]`).join(', ');
  }

  private keyNames(): string {
    return this.pk.map((_, i) => `k${i}`).join(', ');
  }

  /**
   * DDL of `T__lock_keys(start_ts, for_update_ts, primary_table,
   * primary_key, ttl_ms, k0[], ...)`. Step 1 inserts our lock row where the
   * slot is free (ON CONFLICT DO NOTHING: another holder's row is left alone
   * and reported). Step 2 is a new statement, so its snapshot follows our
   * inserts: on a key we now hold, no other transaction can commit, so the
   * newest committed version it returns is the latest for as long as we
   * hold the lock. It raises our for_update_ts to that version's commit_ts
   * when the version committed after our for_update_ts was drawn (the
   * holder we waited for): prewrite counts only versions above it as
   * conflicts. Our own rollback marker on a key means a resolver already
   * rolled this transaction back: it must not lock anything more.
   */
  lockKeysFunctionSql(): string {
    const s = this.storage;
    const n = this.pk.length;
    // $1 start_ts, $2 for_update_ts, $3 primary table, $4 primary key, $5 ttl, $6.. one text[] per key column, then the keys' slots
    const params = ['bigint', 'bigint', 'text', 'text[]', 'bigint', ...Array.from({ length: n }, () => 'text[]'), 'int[]'];
    const outColumns = s.meta.columns.map((c) => `${ident(c.name)} ${storageType(c.sqlType)}`).join(', ');
    const values = s.valueColumns;
    const keys = this.keyParams(6);
    const pkCasts = this.pk.map((c, i) => `b.k${i}::${storageType(c.sqlType)}`).join(', ');
    const sCols = s.meta.columns.map((c) => (this.pk.includes(c) ? `b.k${this.pk.indexOf(c)}::${storageType(c.sqlType)} as ${ident(c.name)}` : `v.${ident(c.name)}`)).join(', ');
    return `create or replace function ${this.lockFunction}(${params.join(', ')})
returns table (__i int, __status text, __holder text, __holder_table text, __holder_key text[], __expired boolean, __commit_ts text, __op text, ${outColumns})
language plpgsql volatile as $lock$
#variable_conflict use_column
begin
  -- 1. Take the free slots; a slot held by anyone (us included) is left as it is.
  insert into ${s.locks} (${this.pk.map((c) => ident(c.name)).join(', ')}, start_ts, op, for_update, for_update_ts, primary_table, primary_key, ttl_ms, slot)
  select ${pkCasts}, $1, 'lock', true, $2, $3, $4, $5, b.slot from unnest(${keys}, $${6 + n}) as b(${this.keyNames()}, slot)
  on conflict do nothing;
  -- 2. A new statement, so a new snapshot that follows our inserts.
  return query with b as (select * from unnest(${keys}) with ordinality as b(${this.keyNames()}, i)),
  st as (
    select (b.i - 1)::int as __si,
      case when l.start_ts is null then 'retry'
        when l.start_ts <> $1 then 'locked'
        when exists (select 1 from ${s.versions} r where ${this.pkMatch('r', 'b', true)} and r.commit_ts = $1 and r.op = 'rollback') then 'rolled-back'
        else 'ok' end as __st,
      l.start_ts as __h, l.primary_table as __ht, l.primary_key as __hk,
      (${lockExpiredSql('l')}) as __ex,
      v.commit_ts as __ct, v.op as __vop, ${sCols}
    from b left join ${s.locks} l on ${this.pkMatch('l', 'b', true)}
    left join lateral (select v.commit_ts, v.op${values.map((c) => `, v.${ident(c.name)}`).join('')} from ${s.versions} v
      where ${this.pkMatch('v', 'b', true)} and v.op in ('put', 'del') order by v.commit_ts desc limit 1) v on true
  ),
  raised as (
    update ${s.locks} l set for_update_ts = st.__ct from st
    where st.__st = 'ok' and ${this.pkMatch('l', 'st', false)} and l.start_ts = $1 and l.for_update and st.__ct > l.for_update_ts
    returning 1
  )
  select st.__si, st.__st, st.__h::text, st.__ht, st.__hk, st.__ex, st.__ct::text, st.__vop, ${s.meta.columns.map((c) => `st.${ident(c.name)}`).join(', ')}
  from st;
end
$lock$`;
  }

  /**
   * Calls the lock function for `keys` and, in the same statement, puts the
   * transaction's own buffered images in place of the committed ones and
   * evaluates the read's filter on the result (`__match`), aliased as the
   * user's table so that drizzle's rendered filter runs unchanged. The
   * shard must own every slot of the keys (the slot fence, as in prewrite).
   */
  lockKeys(startTs: bigint, forUpdateTs: bigint, primaryTable: string, primaryKey: KeyTexts, ttlMs: number, keys: readonly KeyTexts[], shape: LockReadShape): Statement {
    const s = this.storage;
    const T = s.alias;
    // The filter's own $1..$n come first; ours follow.
    const values: unknown[] = [...(shape.where?.params ?? [])];
    const param = (value: unknown): string => {
      values.push(value);
      return `$${values.length}`;
    };
    const args = [
      `${param(startTs.toString())}::bigint`,
      `${param(forUpdateTs.toString())}::bigint`,
      `${param(primaryTable)}::text`,
      `${param(primaryKey)}::text[]`,
      `${param(ttlMs)}::bigint`,
      ...this.pk.map((_, i) => `${param(keys.map((k) => k[i] ?? null))}::text[]`),
    ];
    const slots = keys.map((k) => slotOfKey(s.meta, k));
    args.push(`${param(slots)}::int[]`);
    const fence = `percolator_fence_slots(${param([...new Set(slots)])}::int[])`;
    const call = `(select __locked.* from ${fence} as __fence(owned) cross join lateral (select * from ${this.lockFunction}(${args.join(', ')}) where __fence.owned) __locked)`;
    const match = `coalesce(${T}.__op = 'put'${shape.where ? ` and (${shape.where.sql})` : ''}, false) as __match`;
    const buffered = shape.buffered;
    if (buffered.length === 0) return { text: `select ${T}.*, ${match} from ${call} as ${T}`, values };

    const arrays = [
      ...this.pk.map((_, i) => `${param(buffered.map((m) => m.keyTexts[i] ?? null))}::text[]`),
      ...s.valueColumns.map((_, i) => `${param(buffered.map((m) => m.valueTexts?.[i] ?? null))}::text[]`),
      `${param(buffered.map((m) => m.op))}::text[]`,
    ];
    const names = [...this.pk.map((_, i) => `k${i}`), ...s.valueColumns.map((_, i) => `v${i}`), 'op'].join(', ');
    const casts = [
      ...this.pk.map((c, i) => `b.k${i}::${storageType(c.sqlType)} as ${ident(c.name)}`),
      ...s.valueColumns.map((c, i) => `b.v${i}::${storageType(c.sqlType)} as ${ident(c.name)}`),
    ].join(', ');
    const pkEq = this.pk.map((c) => `b.${ident(c.name)} = l.${ident(c.name)}`).join(' and ');
    const status = '__i, __status, __holder, __holder_table, __holder_key, __expired, __commit_ts';
    const text = `with __buf as (select ${casts}, b.op as __bop from unnest(${arrays.join(', ')}) as b(${names})),
__lk as (select * from ${call})
select ${T}.*, ${match} from (
  select ${status.split(', ').map((c) => `l.${c}`).join(', ')}, l.__op, ${s.meta.columns.map((c) => `l.${ident(c.name)}`).join(', ')}
  from __lk l where l.__status <> 'ok' or not exists (select 1 from __buf b where ${pkEq})
  union all
  select ${status.split(', ').map((c) => `l.${c}`).join(', ')}, b.__bop, ${s.meta.columns.map((c) => `b.${ident(c.name)}`).join(', ')}
  from __lk l join __buf b on ${pkEq} where l.__status = 'ok'
) as ${T}`;
    return { text, values };
  }

  /** Deletes this transaction's lock-only rows (prewritten locks have for_update = false and stay). */
  releaseLockOnly(startTs: bigint): Statement {
    return { text: `delete from ${this.storage.locks} where start_ts = $1::bigint and for_update`, values: [startTs.toString()] };
  }

  /** Records on our primary lock whom we wait for; no row: our primary lock is gone (rolled back by a resolver). */
  setWaitingFor(startTs: bigint, primaryKey: KeyTexts, holderTs: bigint, holderTable: string, holderKey: KeyTexts): Statement {
    return {
      text: `update ${this.storage.locks} l set waiting_for_ts = $3::bigint, waiting_for_table = $4::text, waiting_for_key = $5::text[]
where ${this.pkEqualsParam(2)} and l.start_ts = $1::bigint`,
      values: [startTs.toString(), primaryKey, holderTs.toString(), holderTable, holderKey],
    };
  }

  clearWaitingFor(startTs: bigint, primaryKey: KeyTexts): Statement {
    return {
      text: `update ${this.storage.locks} l set waiting_for_ts = null, waiting_for_table = null, waiting_for_key = null
where ${this.pkEqualsParam(2)} and l.start_ts = $1::bigint and l.waiting_for_ts is not null`,
      values: [startTs.toString(), primaryKey],
    };
  }

  /** Whom transaction `startTs` (whose primary is this key) waits for, if its live primary lock says so. */
  waitEdge(startTs: bigint, primaryKey: KeyTexts): Statement {
    return {
      text: `select waiting_for_ts::text as waiting_for_ts, waiting_for_table, waiting_for_key from ${this.storage.locks} l
where ${this.pkEqualsParam(2)} and l.start_ts = $1::bigint and ${lockLiveSql('l')}`,
      values: [startTs.toString(), primaryKey],
    };
  }

  private pkEqualsParam(param: number): string {
    return this.pk.map((c, i) => `l.${ident(c.name)} = ($${param}::text[])[${i + 1}]::${storageType(c.sqlType)}`).join(' and ');
  }
}
