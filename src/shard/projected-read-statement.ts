import { sql, type SQL } from 'drizzle-orm';
import { storageType } from '../schema/sql-names.js';
import { leadingGcCheckSql, LOCK_INFO_COLUMNS } from './read-row-columns.js';
import { snapshotLocksSql, snapshotView, type SnapshotReadRequest } from './snapshot-read-statement.js';

/** A read whose rows are expressions over the snapshot's rows: aggregates, group columns, computed new values. */
export interface ProjectedReadRequest extends Omit<SnapshotReadRequest, 'orderBy' | 'limit'> {
  /** Outputs over the table's columns (drizzle SQL, or an aggregate), returned as `__p0`, `__p1`, ... */
  readonly select: readonly (SQL | ProjectedAggregate)[];
  readonly groupBy?: readonly SQL[] | undefined;
  /** Only when every group lives on one shard (the caller knows): a having over partial groups would be wrong. */
  readonly having?: SQL | undefined;
  /** `select distinct` of the output expressions. */
  readonly distinct?: boolean | undefined;
  /** Per output, the SQL type of a column it is assigned to (an update's new value), converted as assignment would; aligned with `select`. */
  readonly assignTo?: readonly (string | undefined)[] | undefined;
}

/** An aggregate output: see AggregateTerm in src/txn/engine-contract.ts. */
export interface ProjectedAggregate {
  readonly aggregate: 'count' | 'sum' | 'min' | 'max' | 'distinct-values';
  readonly argument?: SQL | undefined;
  readonly codePointOrder?: boolean | undefined;
}

/** The SQL of an output. */
function outputSql(output: SQL | ProjectedAggregate): SQL {
  if (!('aggregate' in output)) return output;
  const argument = output.argument;
  switch (output.aggregate) {
    case 'count':
      return argument ? sql`count(${argument})` : sql`count(*)`;
    case 'sum':
      return sql`sum(${argument})`;
    case 'min':
    case 'max': {
      const compared = output.codePointOrder ? sql`${argument} collate "C"` : sql`${argument}`;
      return output.aggregate === 'min' ? sql`min(${compared})` : sql`max(${compared})`;
    }
    case 'distinct-values':
      // Distinct as the type compares (1.0 = 1.00); the caller merges the shards' values by their text.
      return sql`(array_agg(distinct ${argument}) filter (where ${argument} is not null))::text[]`;
  }
}

/** A row of a projected read: kind 'p' (its `__p<i>` set), 'l' (a lock met) or 'g' (older than the GC safe point). */
export interface RawProjectedRow {
  __kind: 'p' | 'l' | 'g';
  __lock_key: string[] | null;
  __lock_start: string | null;
  __primary_table: string | null;
  __primary_key: string[] | null;
  __expired: boolean | null;
  [output: string]: unknown;
}

/** The name of output `i` of a projected read. */
export function projectedColumn(i: number): string {
  return `__p${i}`;
}

/**
 * One projected read of one table on one shard, in one statement: the
 * snapshot's merged view (the visible version of every key at readTs,
 * this transaction's buffered writes merged in) aliased as the user's table
 * and filtered by drizzle's rendered filter, exactly as a scan reads it
 * (snapshot-read-statement.ts); then the caller's expressions over those
 * rows, grouped if asked. The same statement returns the locks a scan with
 * the same filter would meet, so pending writes are resolved as for a scan.
 */
export function buildProjectedRead(request: ProjectedReadRequest): { sql: string; params: unknown[] } {
  const { storage, select, groupBy = [], having } = request;
  if (select.length === 0) throw new RangeError('a projected read needs at least one output expression');
  const T = storage.alias;
  const fragments: SQL[] = [...select.map(outputSql), ...groupBy, ...(having ? [having] : [])];
  // A grouping or distinct over the one-pass view is planned as a sort (snapshotView); over two passes, as a hash.
  const view = snapshotView(request, fragments, { twoPass: groupBy.length > 0 || request.distinct === true });
  const outputs = view.fragments.slice(0, select.length).map((o, i) => {
    const type = request.assignTo?.[i];
    return type ? `(${o})::${assignmentType(type)}` : o;
  });
  const groups = view.fragments.slice(select.length, select.length + groupBy.length);
  const havingText = having ? view.fragments[select.length + groupBy.length] : undefined;

  // The rows matching the filter, read once: the locks on their keys are found by probing each lock's key in the view.
  const rows = `select ${T}.* from (${view.merged}) as ${T}${view.filter}`;
  const noLock = LOCK_INFO_COLUMNS.map(([name, type]) => `null::${type} as ${name}`).join(', ');
  const projected = `select${request.distinct ? ' distinct' : ''} 'p' as __kind, ${outputs.map((o, i) => `${o} as ${projectedColumn(i)}`).join(', ')}, ${noLock}
from (${rows}) as ${T}${groups.length > 0 ? ` group by ${groups.join(', ')}` : ''}${havingText ? ` having ${havingText}` : ''}`;
  const nulls = outputs.map(() => 'null').join(', ');
  const locks = snapshotLocksSql(storage, view, `'l', ${nulls}`, null);
  const gc = leadingGcCheckSql([`'g' as __kind`, ...outputs.map((_, i) => `null as ${projectedColumn(i)}`)], view.ts, view.gate);
  const ctes = view.withClause ? `with ${view.withClause} ` : '';
  // The projection is wrapped so that its distinct, group by and having stay its own, whatever follows.
  return { sql: `${ctes}${gc}\nunion all select * from (${projected}) p union all ${locks}`, params: view.params };
}

/**
 * The type a new value is cast to before it is returned: the column's
 * storage type, but strings without their length, so that a value too long
 * for varchar(n)/char(n) reaches the client's check (which refuses it, as
 * an assignment would) instead of being truncated by an explicit cast.
 */
function assignmentType(sqlType: string): string {
  const type = storageType(sqlType);
  if (/^(character varying|varchar|character|char|bpchar)\s*(\(\d+\))?$/i.test(type)) return 'text';
  return type;
}
