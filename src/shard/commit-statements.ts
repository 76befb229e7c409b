import type { KeyTexts } from './key-text.js';
import { hasStableKeyText } from './key-text.js';
import type { Statement } from './shard-pool.js';
import { ident, literal, storageType } from '../schema/sql-names.js';
import type { TableSql } from './table-sql.js';
import { MultiTableTexts } from './multi-table-texts.js';

/**
 * The statements of commit (and roll forward): a lock's pending image
 * becomes its key's version and latest row, and the lock is deleted, in one
 * statement.
 */

/** commitShared: up to this many keys, each finds its entry by array_position (see commitSharedDeleteSql). */
const POSITION_LOOKUP_MAX_KEYS = 64;

/** One transaction's keys in a commitShared. */
export interface SharedCommitEntry {
  readonly startTs: bigint;
  readonly commitTs: bigint;
  readonly keys: readonly KeyTexts[];
  /** Commit only if the lock of the first key (the primary) is still ours and not pushed past commitTs. */
  readonly guarded: boolean;
  /** Guarded, with its primary in another table of the statement (commitTables): no key here is the primary. */
  readonly holdsPrimary?: boolean;
}

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
export function commitKeys(t: TableSql, startTs: bigint, commitTs: bigint, keys: readonly KeyTexts[]): Statement {
  const v = t.valueColumns;
  const cols = [...t.pk, ...v].map((c) => ident(c.name)).join(', ');
  const inRows = t.keyInRows('l', 3);
  const text = t.statementText('commitKeys', () => `${inRows
    ? `with del as (delete from ${t.locks} l where ${inRows}`
    : `with b as (select * from unnest(${t.arrays(3, t.pk.length)}) as b(${t.keyNames()})),
del as (delete from ${t.locks} l using b where ${t.pkMatch('l', 'b')}`} and l.start_ts = $1::bigint and l.min_commit_ts <= $2::bigint
  and ${columnsFenceSql(t)}
  returning ${t.committedColumns('l')}),
${latestUpsertSql(t, '$2::bigint')}
insert into ${t.versions} (${cols}, slot, commit_ts, start_ts, op)
select ${cols}, del.slot, $2::bigint, $1::bigint, del.op from del where del.op <> 'rollback' and not del.for_update`);
  return { text, values: [startTs.toString(), commitTs.toString(), ...t.keyColumnsOf(keys)] };
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
export function commitShared(t: TableSql, entries: readonly SharedCommitEntry[]): Statement {
  return commitTables([{ table: t, entries }]);
}

/** One table's part of a commit of several tables: the keys of several transactions, as for commitShared. */
export interface TableCommit {
  readonly table: TableSql;
  readonly entries: readonly SharedCommitEntry[];
}

const multiTableTexts = new MultiTableTexts();

/**
 * commitShared over several tables of one shard, in one statement (one
 * round trip, one local transaction, one WAL flush): per table its rows
 * (`b<n>`), lock deletion (`del<n>`), latest rows and versions; one `p`
 * locks the guarded primaries of every table first (tables in the order
 * given, callers sort them by name, keys in order), and a guarded
 * transaction's keys in every table commit only if its primary's lock
 * was taken there. A guarded entry holds its primary as its first key,
 * unless `holdsPrimary` is false (its primary is in another table of the
 * statement).
 */
export function commitTables(pieces: readonly TableCommit[]): Statement {
  const values: unknown[] = [];
  const offsets: number[] = [];
  const byPosition: boolean[] = [];
  for (const { table, entries } of pieces) {
    const piece = commitPieceValues(table, entries);
    offsets.push(values.length);
    byPosition.push(piece.byPosition);
    values.push(...piece.values);
  }
  // The text depends only on the tables and each one's plan choice: built once per combination, not per statement.
  const build = () => {
    const parts = pieces.map(({ table }, n) => commitPieceSql(table, pieces.length === 1 ? '' : String(n), offsets[n]!, byPosition[n]!));
    return `with ${parts.map((p) => p.rows).join(',\n')},
p as materialized (${parts.map((p) => p.primaries).join('\n  union all ')}),
${parts.map((p) => p.writes).join(',\n')}
select start_ts::text as start_ts, count(*)::int as written from (${parts.map((p) => p.inserted).join(' union all ')}) ins group by start_ts`;
  };
  if (pieces.length === 1) return { text: pieces[0]!.table.statementText(byPosition[0] ? 'commitShared' : 'commitSharedJoin', build), values };
  return { text: multiTableTexts.text(pieces.map((p) => p.table), byPosition.map((b) => (b ? '' : 'join')), build), values };
}

/** One table's parameters in a commit statement: starts, commits, guards, primary flags, then the key columns. */
function commitPieceValues(t: TableSql, entries: readonly SharedCommitEntry[]): { values: unknown[]; byPosition: boolean } {
  const starts: string[] = [];
  const commits: string[] = [];
  const guards: string[] = [];
  const firsts: string[] = [];
  const keys: KeyTexts[] = [];
  for (const entry of entries) {
    const start = entry.startTs.toString();
    const commit = entry.commitTs.toString();
    const holdsPrimary = entry.guarded && entry.holdsPrimary !== false;
    for (const [i, key] of entry.keys.entries()) {
      starts.push(start);
      commits.push(commit);
      guards.push(entry.guarded ? 't' : 'f');
      firsts.push(holdsPrimary && i === 0 ? 't' : 'f');
      keys.push(key);
    }
  }
  // Small statements (nearly all) find their entry by position; large ones join (array_position is linear),
  // and so do keys whose distinct texts may be equal values (char(n), floats): position would find the wrong entry.
  const byPosition = keys.length <= POSITION_LOOKUP_MAX_KEYS && t.pk.every(hasStableKeyText);
  return { values: [starts, commits, guards, firsts, ...t.keyColumnsOf(keys)], byPosition };
}

interface CommitPieceSql {
  /** CTE `b<n>`: the table's rows of the statement. */
  readonly rows: string;
  /** The part of `p` that locks this table's guarded primaries. */
  readonly primaries: string;
  /** CTEs `del<n>`, `up<n>`, `ins<n>`. */
  readonly writes: string;
  /** What `ins<n>` returns. */
  readonly inserted: string;
}

/** One table's SQL in commitTables, its CTEs suffixed with `name`, its parameters after the first `offset`. */
function commitPieceSql(t: TableSql, name: string, offset: number, byPosition: boolean): CommitPieceSql {
  const v = t.valueColumns;
  const cols = [...t.pk, ...v].map((c) => ident(c.name)).join(', ');
  const b = `b${name}`;
  const del = `del${name}`;
  const ins = `ins${name}`;
  return {
    rows: `${b} as (select b.s::bigint as s, b.c::bigint as c, b.g::boolean as g, b.f::boolean as f, ${t.keyNames()}
  from unnest(${t.arrays(offset + 1, 4 + t.pk.length)}) as b(s, c, g, f, ${t.keyNames()}))`,
    primaries: `select l.start_ts from (select * from ${b} b where b.g and b.f order by ${t.pk.map((c, i) => `b.k${i}::${storageType(c.sqlType)}`).join(', ')}) b
  cross join lateral (select l.start_ts from ${t.locks} l where ${t.pkMatch('l', 'b')} and l.start_ts + 0 = b.s
    and l.min_commit_ts <= b.c and not l.for_update for update) l`,
    writes: `${commitSharedDeleteSql(t, byPosition, b, del, offset)},
${latestUpsertSql(t, `${del}.__commit_ts`, del, `up${name}`)},
${ins} as (insert into ${t.versions} (${cols}, slot, commit_ts, start_ts, op)
  select ${cols}, ${del}.slot, ${del}.__commit_ts, ${del}.__start_ts, ${del}.op from ${del} where ${del}.op <> 'rollback' and not ${del}.for_update returning start_ts)`,
    inserted: `select start_ts from ${ins}`,
  };
}

/**
 * commitShared's CTE `del`: the statement's lock rows, once `p` has locked the
 * guarded primaries. In a small statement a one-column key finds its rows
 * with `= any()` and its entry by position (keys of one statement are
 * distinct): no join, whose generic plan may hash the rows and scan
 * every lock row, dead ones too. A large statement joins: there a hash is
 * the right plan, and a lookup by position per row would be quadratic.
 */
function commitSharedDeleteSql(t: TableSql, byPosition: boolean, rows: string, del: string, offset: number): string {
  const tail = (entry: (column: string) => string) => `and (select count(*) from p) >= 0 and ${columnsFenceSql(t)}
  and case when ${entry('g')} then l.start_ts in (select start_ts from p) else l.min_commit_ts <= ${entry('c')} end
  returning ${t.committedColumns('l')}, ${entry('c')} as __commit_ts, l.start_ts as __start_ts)`;
  const inRows = t.keyInRows('l', offset + 5);
  if (inRows && byPosition) {
    const key = t.pk[0]!;
    const at = `[array_position($${offset + 5}::text[]::${storageType(key.sqlType)}[], l.${ident(key.name)})]`;
    const entry = (column: string) => ({ s: `($${offset + 1}::text[])${at}::bigint`, c: `($${offset + 2}::text[])${at}::bigint`, g: `($${offset + 3}::text[])${at} = 't'` })[column]!;
    return `${del} as (delete from ${t.locks} l where ${inRows} and l.start_ts = ${entry('s')}
  ${tail(entry)}`;
  }
  return `${del} as (delete from ${t.locks} l using ${rows} b where ${t.pkMatch('l', 'b')} and l.start_ts + 0 = b.s
  ${tail((column) => `b.${column}`)}`;
}

/**
 * The columns fence (schema/core/0007-schema-versions.sql): these
 * statements copy lock rows into versions and latest rows by this client's
 * column list, so they run only while the shard stores exactly those
 * columns. After a migrate() changed them, an older client's statement
 * (its own commit, or a roll forward of a newer client's lock) writes
 * nothing and fails with PCSV2 (StoredColumnsChanged), and the client runs
 * it again built from the shard's catalogue (src/txn/stored-columns.ts):
 * a new column's values are never dropped. One evaluation per statement (an
 * uncorrelated subquery), in the snapshot taken after its tables' locks,
 * which a migration altering them holds until it commits. A table the shard
 * does not catalogue (or catalogued before fingerprints) passes.
 */
function columnsFenceSql(t: TableSql): string {
  const [name, columns] = [literal(t.meta.name), literal(t.columnsFingerprint)];
  // The function (which raises) is called only on a mismatch: a plain lookup costs a third of a PL/pgSQL call.
  return `coalesce((select c.columns_fingerprint is null or c.columns_fingerprint = ${columns} or percolator_columns_fence(${name}, ${columns})
    from percolator_tables c where c.name = ${name}), true)`;
}

/** CTE `up`: each committed put/del of `del` becomes its key's latest row. */
function latestUpsertSql(t: TableSql, commitTs: string, del = 'del', up = 'up'): string {
  const v = t.valueColumns;
  return `${up} as (insert into ${t.latest} as n (${t.pkList}, slot, commit_ts, op${v.map((c) => `, ${ident(c.name)}`).join('')})
  select ${t.pkList}, ${del}.slot, ${commitTs}, ${del}.op${v.map((c) => `, ${ident(c.name)}`).join('')} from ${del} where ${del}.op in ('put', 'del') and not ${del}.for_update
  on conflict (${t.pkList}) do update set commit_ts = excluded.commit_ts, op = excluded.op${v.map((c) => `, ${ident(c.name)} = excluded.${ident(c.name)}`).join('')}
  where n.commit_ts < excluded.commit_ts)`;
}
