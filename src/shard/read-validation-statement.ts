import type { KeyTexts } from './key-text.js';
import type { Statement } from './shard-pool.js';
import { ident, storageType } from '../schema/sql-names.js';
import type { TableSql } from './table-sql.js';
import { ownershipChangedSql } from './slot-read-filter.js';
import type { Timestamp } from '../timestamp.js';

/** The statement of commit-time read validation (src/txn/read-validation.ts says what it checks and why). */

/** The transaction being validated. */
export interface ValidationInput {
  readonly startTs: Timestamp;
  readonly commitTs: Timestamp;
  /** The map version the transaction's reads were placed by (the oldest). */
  readonly mapVersion: bigint;
  storageOf(tableName: string): TableSql;
}

/** What one shard's statement checks: keys read per table name, with the timestamp each was read at; scanned predicates. */
export interface ValidationChecks {
  readonly keys: ReadonlyMap<string, readonly { keyTexts: KeyTexts; readTs: Timestamp }[]>;
  readonly predicates: readonly { readonly table: string; readonly where?: { readonly sql: string; readonly params: readonly unknown[] } | undefined; readonly readTs: Timestamp; readonly leavingRows?: boolean | undefined }[];
}

/** What a validation statement returns: a shard whose GC safe point passed startTs, or the first conflict. */
export type ConflictRow =
  | { kind: 'gc'; ts: string }
  | { kind: 'moved'; ts: string }
  | { kind: 'version' | 'lock' | 'predicate-version' | 'predicate-lock'; tbl: string; key: string[]; ts: string };

/** One statement for one shard: every check, `union all`, stopping at the first conflict. */
export function validationStatement(input: ValidationInput, checks: ValidationChecks): Statement {
  const values: unknown[] = [input.startTs.toString(), input.commitTs.toString()];
  const param = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  const start = '$1::bigint';
  const commit = '$2::bigint';
  // First, in the same snapshot as the checks: version GC may have removed
  // versions inside (startTs, safe point], which the checks below would miss.
  const parts: string[] = [`(select 'gc' as kind, null::text as tbl, null::text[] as key, g.safe_point::text as ts from percolator_gc g where g.safe_point > ${start})`];
  // Then whether a slot came here or left after the reads' map version: a write to a slot read here may then have
  // gone to another shard, which these checks do not see; the transaction runs again with the new map.
  const mapVersion = `${param(input.mapVersion.toString())}::bigint`;
  parts.push(`(select 'moved', null, null, ${mapVersion}::text where ${ownershipChangedSql(mapVersion)})`);

  for (const [table, keys] of checks.keys) {
    const s = input.storageOf(table);
    // Each key is checked from the timestamp it was read at (a locking read reads above start_ts).
    const arrays = [...s.pk.map((_, i) => `${param(keys.map((k) => k.keyTexts[i] ?? null))}::text[]`), `${param(keys.map((k) => k.readTs.toString()))}::text[]`].join(', ');
    const names = [...s.pk.map((_, i) => `k${i}`), 'read_ts'].join(', ');
    const match = (alias: string) => s.pk.map((c, i) => `${alias}.${ident(c.name)} = __b.k${i}::${storageType(c.sqlType)}`).join(' and ');
    const keyText = (alias: string) => `array[${s.pk.map((c) => `${alias}.${ident(c.name)}::text`).join(', ')}]`;
    const tbl = param(table);
    parts.push(`(select 'version' as kind, ${tbl}::text as tbl, ${keyText('__v')} as key, __v.commit_ts::text as ts
  from unnest(${arrays}) as __b(${names}) join ${s.versions} __v on ${match('__v')}
  where __v.commit_ts > __b.read_ts::bigint and __v.commit_ts <= ${commit} and __v.op in ('put', 'del') limit 1)`);
    parts.push(`(select 'lock' as kind, ${tbl}::text as tbl, ${keyText('__l')} as key, __l.start_ts::text as ts
  from unnest(${arrays}) as __b(${names}) join ${s.locks} __l on ${match('__l')}
  where __l.start_ts <> ${start} and __l.start_ts < ${commit} and __l.op in ('put', 'del') limit 1)`);
  }

  for (const predicate of checks.predicates) {
    const s = input.storageOf(predicate.table);
    const filter = predicate.where ? renumber(predicate.where.sql, predicate.where.params, param) : 'true';
    const columns = (alias: string) => s.meta.columns.map((c) => `${alias}.${ident(c.name)}`).join(', ');
    const keyText = `array[${s.pk.map((c) => `${s.alias}.${ident(c.name)}::text`).join(', ')}]`;
    const tbl = param(predicate.table);
    // The filter runs on the images aliased as the user's table, as in a snapshot read, so Postgres can use the key index.
    parts.push(`(select 'predicate-version' as kind, ${tbl}::text as tbl, ${keyText} as key, ${s.alias}.__ts::text as ts from (
    select ${columns('__v')}, __v.commit_ts as __ts from ${s.versions} __v
    where __v.commit_ts > ${param(predicate.readTs.toString())}::bigint and __v.commit_ts <= ${commit} and __v.op = 'put') as ${s.alias}
  where (${filter}) limit 1)`);
    parts.push(`(select 'predicate-lock' as kind, ${tbl}::text as tbl, ${keyText} as key, ${s.alias}.__ts::text as ts from (
    select ${columns('__l')}, __l.start_ts as __ts from ${s.locks} __l
    where __l.start_ts <> ${start} and __l.start_ts < ${commit} and __l.op = 'put') as ${s.alias}
  where (${filter}) limit 1)`);
    if (predicate.leavingRows) parts.push(...leavingRowChecks(s, filter, tbl, keyText, param(predicate.readTs.toString()), start, commit));
  }
  return { text: `${parts.join('\nunion all\n')}\nlimit 1`, values };
}

/**
 * For a read that returned no keys (an aggregate): rows that left the
 * filtered set. A version in the window (put or del), or another
 * transaction's pending write, on a key whose image at the read timestamp
 * (one backward probe of the versions index) matched the filter.
 */
function leavingRowChecks(s: TableSql, filter: string, tbl: string, keyText: string, readTs: string, start: string, commit: string): string[] {
  const columns = s.meta.columns.map((c) => `__o.${ident(c.name)}`).join(', ');
  const stored = [...s.pk, ...s.valueColumns].map((c) => ident(c.name)).join(', ');
  const before = (alias: string) => `cross join lateral (
      select ${stored}, op from ${s.versions} __o where ${s.pk.map((c) => `__o.${ident(c.name)} = ${alias}.${ident(c.name)}`).join(' and ')}
        and __o.commit_ts <= ${readTs}::bigint and __o.op in ('put', 'del') order by __o.commit_ts desc limit 1) __o`;
  return [
    `(select 'predicate-version' as kind, ${tbl}::text as tbl, ${keyText} as key, ${s.alias}.__ts::text as ts from (
    select ${columns}, __v.commit_ts as __ts from ${s.versions} __v ${before('__v')}
    where __v.commit_ts > ${readTs}::bigint and __v.commit_ts <= ${commit} and __v.op in ('put', 'del') and __o.op = 'put') as ${s.alias}
  where (${filter}) limit 1)`,
    `(select 'predicate-lock' as kind, ${tbl}::text as tbl, ${keyText} as key, ${s.alias}.__ts::text as ts from (
    select ${columns}, __l.start_ts as __ts from ${s.locks} __l ${before('__l')}
    where __l.start_ts <> ${start} and __l.start_ts < ${commit} and __l.op in ('put', 'del') and __o.op = 'put') as ${s.alias}
  where (${filter}) limit 1)`,
  ];
}

/**
 * Embeds a filter rendered by drizzle (`$1`.. placeholders) into a larger
 * statement: each placeholder becomes a new parameter. Quoted identifiers and
 * string literals are copied untouched.
 */
function renumber(text: string, params: readonly unknown[], param: (value: unknown) => string): string {
  const mapped = new Map<number, string>();
  return text.replace(/"(?:[^"]|"")*"|'(?:[^']|'')*'|\$(\d+)/g, (token, n: string | undefined) => {
    if (n === undefined) return token;
    const index = Number(n);
    let placeholder = mapped.get(index);
    if (!placeholder) mapped.set(index, (placeholder = param(params[index - 1])));
    return placeholder;
  });
}
