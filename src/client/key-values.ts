import type { PgColumn } from 'drizzle-orm/pg-core';
import { canonicalDecimal } from '../shard/key-text.js';
import { describeValue } from './column-value.js';

/**
 * Key column types the client reads by key and pins to shards: each value
 * has one canonical form (below) whose driver text is the engine's key text
 * (src/shard/key-text.ts), so a filter value and a stored row of one key
 * are placed, and identified, alike. Floats (a JS double is not the `real`
 * Postgres stores), char(n) (padding) and the string modes of dates and
 * timestamps (many spellings) stay off these paths: filters on them scan.
 */
const KEY_TYPES = new Set([
  'PgInteger', 'PgSmallInt', 'PgBigInt53', 'PgBigInt64', 'PgSerial', 'PgSmallSerial', 'PgBigSerial53', 'PgBigSerial64',
  'PgText', 'PgVarchar', 'PgBoolean', 'PgEnumColumn',
  'PgUUID', 'PgNumeric', 'PgNumericNumber', 'PgNumericBigInt', 'PgTimestamp', 'PgDate',
]);

/** @internal Whether filters on this column may be read by key and pinned to a shard. */
export function isKeyType(column: PgColumn): boolean {
  if (!KEY_TYPES.has(column.columnType)) return false;
  // timestamp(0..2) rounds a Date's milliseconds: the stored value is not the one hashed.
  return column.columnType !== 'PgTimestamp' || timestampPrecision(column) >= 3;
}

/**
 * @internal The canonical JS value of a key value: what the client uses to
 * identify keys (row cache, duplicates, filters) and hands the engine for
 * uuid and date keys. uuids are lower case (as Postgres prints them; the
 * client always wrote them so), numeric strings have no exponent and no
 * leading or trailing zeros (the engine canonicalises their key texts the
 * same way: shard/key-text.ts), dates are midnight UTC (the day a `date`
 * column keeps, what drizzle reads back, and the only date key a row read
 * back can have). Every other value is its own canonical form. The texts of
 * canonical values are the key texts keys had before, so placement of
 * rows stored in canonical form does not change.
 */
export function canonicalKeyValue(column: PgColumn, value: unknown): unknown {
  switch (column.columnType) {
    case 'PgUUID':
      return typeof value === 'string' ? value.toLowerCase() : value;
    case 'PgNumeric':
      return typeof value === 'string' ? canonicalDecimal(value) : value;
    case 'PgDate':
      return value instanceof Date && !Number.isNaN(value.getTime())
        ? new Date(Date.UTC(value.getUTCFullYear(), value.getUTCMonth(), value.getUTCDate()))
        : value;
    default:
      return value;
  }
}

/**
 * @internal Why a key value would not be stored as given (Postgres rounds it
 * to the column's scale or precision, so the key hashed and identified here
 * would not be the key stored), or undefined when it is fine. Filters with
 * such a value are not key lookups; inserts of one are refused.
 */
export function keyValueProblem(column: PgColumn, value: unknown): string | undefined {
  switch (column.columnType) {
    case 'PgNumeric':
    case 'PgNumericNumber': {
      const scale = numericScale(column);
      if (scale === undefined || (typeof value !== 'string' && typeof value !== 'number')) return undefined;
      const text = canonicalDecimal(String(value));
      const fraction = /\.(\d+)$/.exec(text)?.[1]?.length ?? 0;
      return fraction > scale ? `key ${describeValue(value)} has more than the ${scale} decimal places of ${column.getSQLType()}: Postgres would round it` : undefined;
    }
    case 'PgTimestamp': {
      const precision = timestampPrecision(column);
      if (precision >= 3 || !(value instanceof Date)) return undefined;
      return value.getTime() % 10 ** (3 - precision) === 0 ? undefined : `key ${value.toISOString()} is finer than ${column.getSQLType()}: Postgres would round it`;
    }
    default:
      return undefined;
  }
}

/** Decimal places a numeric column keeps: `numeric(p)` is `numeric(p, 0)`; undefined when unconstrained. */
function numericScale(column: PgColumn): number | undefined {
  const { precision, scale } = column as PgColumn & { precision?: number; scale?: number };
  return precision === undefined ? undefined : (scale ?? 0);
}

/** Fractional digits of seconds a timestamp column keeps (6 when not given). */
function timestampPrecision(column: PgColumn): number {
  return (column as PgColumn & { precision?: number }).precision ?? 6;
}
