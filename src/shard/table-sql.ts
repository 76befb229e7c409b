import { SchemaError } from '../errors.js';
import type { ColumnMeta, TableMeta } from '../schema/table-meta.js';
import type { KeyTexts } from './key-text.js';
import { slotOfKey } from './shard-of.js';
import { ident, storageType } from '../schema/sql-names.js';
import { columnsFingerprint, declaredColumns, schemaFingerprint } from '../schema/schema-fingerprint.js';

/** Storage columns next to the user's; a user column may not share their names. */
const RESERVED_COLUMNS = new Set([
  'commit_ts', 'start_ts', 'op', 'is_insert', 'for_update', 'primary_table', 'primary_key', 'ttl_ms', 'written_at',
  'min_commit_ts', 'for_update_ts', 'waiting_for_ts', 'waiting_for_table', 'waiting_for_key', 'slot',
]);

/**
 * One user table's storage on a shard (`T__versions`, `T__locks`,
 * `T__latest`) as the statement modules see it: its quoted names, its key
 * and value columns, the SQL fragments their statements share, and the
 * cache of their texts. Rows travel as one `text[]` per column, unnested
 * and cast in SQL, so each statement's text is fixed per table and is
 * prepared once per connection whatever the number of rows.
 */
export class TableSql {
  readonly pk: readonly ColumnMeta[];
  readonly valueColumns: readonly ColumnMeta[];
  readonly versions: string;
  readonly locks: string;
  /**
   * Each key's newest committed put/del (reads by scans). Its `op` is a
   * one-byte "char" (schema/table/0010): compare it with untyped literals
   * ('put', 'del'); against a text value ('put'::text, a text parameter,
   * another table's op) it reads as 'p'/'d' and matches nothing.
   */
  readonly latest: string;
  readonly alias: string;
  /** The key columns, quoted and comma-separated. */
  readonly pkList: string;
  /** The shape of the table as schema versions identify it (schema-fingerprint.ts): the schema fences compare these. */
  readonly columnsFingerprint: string;
  readonly schemaFingerprint: string;

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
    this.alias = ident(meta.alias);
    this.pkList = this.pk.map((c) => ident(c.name)).join(', ');
    this.columnsFingerprint = columnsFingerprint(declaredColumns(meta));
    this.schemaFingerprint = schemaFingerprint(meta);
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
  pkMatch(tableAlias: string, rowsAlias: string): string {
    return this.pk.map((c, i) => `${tableAlias}.${ident(c.name)} = ${rowsAlias}.k${i}::${storageType(c.sqlType)}`).join(' and ');
  }

  /** `"a" = ($n::text[])[1]::integer and ...` for one key passed as a text[] parameter. */
  pkEqualsParam(tableAlias: string, param: number): string {
    return this.pk
      .map((c, i) => `${tableAlias}.${ident(c.name)} = ($${param}::text[])[${i + 1}]::${storageType(c.sqlType)}`)
      .join(' and ');
  }

  pkFromParam(param: number): string {
    return this.pk.map((c, i) => `($${param}::text[])[${i + 1}]::${storageType(c.sqlType)}`).join(', ');
  }

  arrays(from: number, count: number): string {
    return Array.from({ length: count }, (_, i) => `$${from + i}::text[]`).join(', ');
  }

  keyNames(): string {
    return this.pk.map((_, i) => `k${i}`).join(', ');
  }

  keyColumnsOf(keys: readonly KeyTexts[]): (string | null)[][] {
    return this.pk.map((_, i) => keys.map((k) => k[i] ?? null));
  }

  /**
   * `l."id" = any($n::text[]::integer[])`: the rows of `alias` whose key is
   * among the statement's rows, for a one-column key (not of an array type). A plain
   * index or table scan: no join with the unnested rows, whose generic
   * plan is often a hash join, and a hash join's 32 kB chunk is a malloc
   * and a trim (an munmap, with TLB shootdowns on this VM) per execution.
   * Undefined for composite keys: they join `unnest(...)` as before.
   */
  keyInRows(alias: string, param: number): string | undefined {
    if (this.pk.length !== 1) return undefined;
    const c = this.pk[0]!;
    const type = storageType(c.sqlType);
    if (type.trim().endsWith(']')) return undefined;
    return `${alias}.${ident(c.name)} = any($${param}::text[]::${type}[])`;
  }

  /** The columns a commit moves from a lock row into its version (the slot included), plus op and for_update. */
  committedColumns(alias: string): string {
    return [...this.pk, ...this.valueColumns].map((c) => `${alias}.${ident(c.name)}`).concat([`${alias}.slot`, `${alias}.op`, `${alias}.for_update`]).join(', ');
  }

  /** The slots of these keys (the slot column of their rows), as a statement parameter. */
  slotsOf(keys: readonly KeyTexts[]): string[] {
    return keys.map((key) => String(slotOfKey(this.meta, key)));
  }
}
