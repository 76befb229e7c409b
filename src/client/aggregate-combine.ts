import { InvalidInputError } from '../errors.js';
import type { ColumnMeta } from '../schema/table-meta.js';
import type { ProjectedRow } from '../txn/engine-contract.js';
import type { AggregateOutputs, FieldPlan } from './aggregate-plan.js';
import { addDecimals, divideDecimals, formatDecimal, parseDecimal, type Decimal } from './decimal.js';
import { compareCodePoints, compareDecimalStrings, rowComparator } from './merge-ordered.js';

/**
 * @internal Most distinct values (countDistinct, sumDistinct, avgDistinct)
 * the client gathers from the shards for one query before it refuses it:
 * the shards send their distinct values, and the client counts their union.
 */
export const MAX_DISTINCT_VALUES = 1_000_000;

/** @internal One combined group: its group terms' raw values, and the outputs of every shard that had it. */
export interface CombinedGroup {
  readonly groupValues: readonly unknown[];
  readonly partials: ProjectedRow[];
}

/**
 * @internal Groups the shards' rows by their group terms' values (each
 * shard returns each of its groups once). Without group terms every shard
 * returns one row, and there is exactly one group, even when no shard was
 * read (count 0, sum null, as Postgres gives for no rows).
 */
export function combineGroups(plan: AggregateOutputs, rows: readonly ProjectedRow[]): CombinedGroup[] {
  const groups = new Map<string, CombinedGroup>();
  const identities = plan.groups.map((g) => identityOf(g.column));
  for (const row of rows) {
    const values = row.slice(0, plan.groups.length);
    const id = JSON.stringify(values.map((v, i) => identities[i]!(v)));
    let group = groups.get(id);
    if (!group) groups.set(id, (group = { groupValues: values, partials: [] }));
    group.partials.push(row);
  }
  if (plan.groups.length === 0 && groups.size === 0) groups.set('', { groupValues: [], partials: [] });
  return [...groups.values()];
}

/** @internal The result row of one group: every field's JS value, as drizzle would give it. */
export function finishGroup(plan: AggregateOutputs, group: CombinedGroup, distinctBudget: { left: number }): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const field of plan.fields) {
    row[field.key] = field.kind === 'group' ? field.decode(group.groupValues[field.group]) : field.decode(combine(field, group.partials, distinctBudget));
  }
  return row;
}

/** The raw (driver) value of an aggregate over all shards, from each shard's partial results. */
function combine(field: FieldPlan & { kind: 'aggregate' }, partials: readonly ProjectedRow[], budget: { left: number }): unknown {
  const values = (output: number): unknown[] => partials.map((p) => p[output]).filter((v) => v !== null && v !== undefined);
  const [first, second] = field.outputs as [number, number | undefined];
  if (field.distinct && field.fn !== 'min' && field.fn !== 'max') {
    const distinct = distinctValues(field.column, values(first), budget);
    if (field.fn === 'count') return String(distinct.length);
    const total = sumOf(distinct.map((text) => (parseDecimal(text) ? text : Number(text))));
    if (field.fn === 'sum' || total === null) return total;
    return average(total, String(distinct.length));
  }
  switch (field.fn) {
    case 'count':
      return values(first)
        .reduce<bigint>((total, v) => total + BigInt(v as string | number), 0n)
        .toString();
    case 'sum':
      return sumOf(values(first));
    case 'avg': {
      const count = values(second!).reduce<bigint>((total, v) => total + BigInt(v as string | number), 0n);
      const total = sumOf(values(first));
      return count === 0n || total === null ? null : average(total, count.toString());
    }
    case 'min':
    case 'max':
      return extreme(field, values(first));
  }
}

/** A sum of partial sums: numbers (float sums) add as floats, decimal texts (bigint, numeric) exactly; null when there are none. */
function sumOf(values: readonly unknown[]): string | number | null {
  if (values.length === 0) return null;
  if (values.some((v) => typeof v === 'number')) return values.reduce<number>((total, v) => total + Number(v), 0);
  let total: Decimal | undefined;
  for (const v of values) {
    const d = parseDecimal(String(v));
    if (!d) return values.reduce<number>((t, x) => t + Number(x), 0); // NaN, Infinity: as floats
    total = total ? addDecimals(total, d) : d;
  }
  return formatDecimal(total!);
}

/** avg = sum / count: a float for float sums, else numeric division as Postgres does it. */
function average(total: string | number, count: string): string | number {
  if (typeof total === 'number') return total / Number(count);
  const sum = parseDecimal(total);
  if (!sum) return Number(total) / Number(count);
  return formatDecimal(divideDecimals(sum, parseDecimal(count)!));
}

/** min or max over the shards' partial results: compared as Postgres orders the column (strings in code-point order, as pushed). */
function extreme(field: FieldPlan & { kind: 'aggregate' }, values: readonly unknown[]): unknown {
  if (values.length <= 1) return values[0] ?? null;
  const column = field.column;
  let compare: (a: unknown, b: unknown) => number;
  if (column) {
    const rows = rowComparator([{ column, direction: 'asc' }]);
    const decode = (v: unknown): unknown => (column.column as unknown as { mapFromDriverValue(v: unknown): unknown }).mapFromDriverValue(v);
    compare = (a, b) => rows({ [column.key]: decode(a) }, { [column.key]: decode(b) });
  } else {
    compare = compareRaw;
  }
  return values.reduce((best, v) => {
    const order = compare(v, best);
    return field.fn === 'min' ? (order < 0 ? v : best) : order > 0 ? v : best;
  });
}

/** @internal Compares two values of one kind as read from Postgres: numbers, bigints, decimal texts, dates, booleans, other texts by code point. */
export function compareRaw(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const x = String(a);
  const y = String(b);
  if (parseDecimal(x) && parseDecimal(y)) return compareDecimalStrings(x, y);
  return compareCodePoints(x, y);
}

/**
 * The union of the shards' distinct values (as text), equal values
 * recognised as the column's type compares them: numerics whatever their
 * trailing zeros, floats by value; anything else by its text.
 */
function distinctValues(column: ColumnMeta | undefined, arrays: readonly unknown[], budget: { left: number }): string[] {
  const seen = new Map<string, string>();
  const numeric = column?.column.columnType === 'PgNumeric';
  const float = column !== undefined && ['PgReal', 'PgDoublePrecision'].includes(column.column.columnType);
  for (const array of arrays) {
    for (const text of array as string[]) {
      if (--budget.left < 0) {
        throw new InvalidInputError(`more than ${MAX_DISTINCT_VALUES} distinct values to combine across shards; count distinct values of the shard key, or narrow the filter`);
      }
      const id = numeric ? canonicalDecimal(text) : float ? String(Number(text)) : text;
      if (!seen.has(id)) seen.set(id, text);
    }
  }
  return [...seen.values()];
}

function identityOf(column: ColumnMeta | undefined): (raw: unknown) => unknown {
  if (column?.column.columnType === 'PgNumeric') return (raw) => (raw === null ? null : canonicalDecimal(String(raw)));
  return (raw) => (raw instanceof Date ? raw.toISOString() : typeof raw === 'bigint' ? raw.toString() : raw);
}

function canonicalDecimal(text: string): string {
  const d = parseDecimal(text);
  if (!d) return text;
  let { unscaled, scale } = d;
  while (scale > 0 && unscaled % 10n === 0n) {
    unscaled /= 10n;
    scale--;
  }
  return formatDecimal({ unscaled, scale });
}
