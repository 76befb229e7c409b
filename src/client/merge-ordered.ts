import type { PgColumn } from 'drizzle-orm/pg-core';
import type { Row } from '../txn/engine-contract.js';
import type { OrderTerm } from './order-by.js';

/**
 * @internal Puts rows gathered from several shards (each already ordered by
 * `terms` and capped at offset + limit) into one order, then applies offset
 * and limit. Array.prototype.sort is a stable TimSort that detects the
 * shards' presorted runs, so this is a k-way merge in O(n log k).
 */
export function mergeOrdered(rows: Row[], terms: readonly OrderTerm[], offset = 0, limit?: number): Row[] {
  const ordered = terms.length > 0 ? rows.sort(rowComparator(terms)) : rows;
  return ordered.slice(offset, limit === undefined ? undefined : offset + limit);
}

/** @internal Compares rows as Postgres orders them: nulls last when ascending, first when descending. */
export function rowComparator(terms: readonly OrderTerm[]): (a: Row, b: Row) => number {
  const compareValues = terms.map((t) => valueComparator(t.column.column));
  return (a, b) => {
    for (const [i, term] of terms.entries()) {
      const key = term.column.key;
      const order = compareNullsLast(a[key], b[key], compareValues[i]!);
      if (order !== 0) return term.direction === 'asc' ? order : -order;
    }
    return 0;
  };
}

function compareNullsLast(a: unknown, b: unknown, compare: (a: never, b: never) => number): number {
  const aNull = a === null || a === undefined;
  const bNull = b === null || b === undefined;
  if (aNull || bNull) return aNull === bNull ? 0 : aNull ? 1 : -1;
  return compare(a as never, b as never);
}

function valueComparator(column: PgColumn): (a: never, b: never) => number {
  if (column.columnType === 'PgNumeric') return compareDecimalStrings as (a: never, b: never) => number;
  if (column.columnType === 'PgUUID') return ((a: string, b: string) => compareCodePoints(a.toLowerCase(), b.toLowerCase())) as (a: never, b: never) => number;
  if (column.enumValues && column.columnType.startsWith('PgEnum')) {
    // Postgres orders enum values by declaration, not alphabetically.
    const rank = new Map(column.enumValues.map((v, i) => [v, i]));
    return ((a: string, b: string) => (rank.get(a) ?? 0) - (rank.get(b) ?? 0)) as (a: never, b: never) => number;
  }
  switch (column.dataType) {
    case 'string':
      return compareCodePoints as (a: never, b: never) => number;
    case 'date':
      return ((a: Date, b: Date) => a.getTime() - b.getTime()) as (a: never, b: never) => number;
    case 'boolean':
      return ((a: boolean, b: boolean) => Number(a) - Number(b)) as (a: never, b: never) => number;
    default:
      return ((a: number | bigint, b: number | bigint) => (a < b ? -1 : a > b ? 1 : 0)) as (a: never, b: never) => number;
  }
}

/** @internal Code point order, which is the "C" collation's byte order for UTF-8 (JS `<` compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      const cx = a.codePointAt(i)!;
      const cy = b.codePointAt(i)!;
      return cx < cy ? -1 : cx > cy ? 1 : 0;
    }
  }
  return a.length - b.length;
}

/** @internal Numeric order of decimal strings as drizzle returns numeric columns ('NaN' sorts last, as in Postgres). */
export function compareDecimalStrings(a: string, b: string): number {
  if (a === 'NaN' || b === 'NaN') return a === b ? 0 : a === 'NaN' ? 1 : -1;
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  if (x.negative !== y.negative) return x.negative ? -1 : 1;
  const magnitude = compareMagnitude(x, y);
  return x.negative ? -magnitude : magnitude;
}

interface Decimal {
  negative: boolean;
  integer: string;
  fraction: string;
}

function parseDecimal(text: string): Decimal {
  let [mantissa = '', exponentText] = text.trim().toLowerCase().split('e');
  const negative = mantissa.startsWith('-');
  mantissa = mantissa.replace(/^[+-]/, '');
  let [integer = '', fraction = ''] = mantissa.split('.');
  const exponent = Number(exponentText ?? 0);
  if (exponent > 0) {
    fraction = fraction.padEnd(exponent, '0');
    integer += fraction.slice(0, exponent);
    fraction = fraction.slice(exponent);
  } else if (exponent < 0) {
    integer = integer.padStart(-exponent + 1, '0');
    fraction = integer.slice(integer.length + exponent) + fraction;
    integer = integer.slice(0, integer.length + exponent);
  }
  integer = integer.replace(/^0+/, '');
  fraction = fraction.replace(/0+$/, '');
  return { negative: negative && (integer !== '' || fraction !== ''), integer, fraction };
}

function compareMagnitude(x: Decimal, y: Decimal): number {
  if (x.integer.length !== y.integer.length) return x.integer.length < y.integer.length ? -1 : 1;
  if (x.integer !== y.integer) return x.integer < y.integer ? -1 : 1;
  const width = Math.max(x.fraction.length, y.fraction.length);
  const fx = x.fraction.padEnd(width, '0');
  const fy = y.fraction.padEnd(width, '0');
  return fx < fy ? -1 : fx > fy ? 1 : 0;
}
