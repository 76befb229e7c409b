import type { ColumnMeta } from '../schema/table-meta.js';
import { toDriverText } from './driver-values.js';

/** A key as the texts of its values (null for null), in key column order: how keys travel in statements. */
export type KeyTexts = readonly (string | null)[];

/**
 * The one text of a key value among the spellings Postgres takes as equal.
 * Key texts decide placement (a hash of the text) and identity inside a
 * transaction, while Postgres compares the typed values: a numeric key
 * written as '1.0' and looked up as '1' must land on one shard. The client
 * hands the engine one spelling of the other key types (integers and floats
 * come from JS numbers, timestamps are Dates; uuids are lower-cased and
 * dates made midnight UTC in rows and filters alike: client/key-values.ts),
 * so their driver text is their key text; numeric strings are the exception.
 * Changing what this returns moves rows: see PLACEMENT_FUNCTION.
 */
export function canonicalKeyText(column: ColumnMeta, text: string): string {
  return column.column.columnType === 'PgNumeric' ? canonicalDecimal(text) : text;
}

/** The key text of a key column's value (null for null): its driver text, canonical. */
export function keyTextOf(column: ColumnMeta, value: unknown): string | null {
  const text = toDriverText(column, value);
  return text === null ? null : canonicalKeyText(column, text);
}

/** Longest exponent expanded; beyond it the text is left for Postgres to judge (its numeric range ends near 1e131072). */
const MAX_EXPONENT = 1000;
const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * A decimal number without exponent, sign of zero, leading or trailing
 * zeros: '001.500' → '1.5', '-0.0' → '0', '1e3' → '1000', '.5' → '0.5'.
 * Anything else (NaN, malformed, huge exponents) comes back unchanged.
 */
export function canonicalDecimal(text: string): string {
  const match = DECIMAL.exec(text);
  if (!match) return text;
  const [, sign, whole = '', fraction = '', exponentText] = match;
  if (whole === '' && fraction === '') return text;
  const exponent = exponentText === undefined ? 0 : Number(exponentText);
  if (Math.abs(exponent) > MAX_EXPONENT) return text;
  let digits = whole + fraction;
  // Position of the decimal point within `digits`.
  let point = whole.length + exponent;
  const leading = /^0*/.exec(digits)![0].length;
  digits = digits.slice(leading);
  point -= leading;
  digits = digits.replace(/0+$/, '');
  if (digits === '') return '0';
  let body: string;
  if (point <= 0) body = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) body = digits + '0'.repeat(point - digits.length);
  else body = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return sign === '-' ? `-${body}` : body;
}

/**
 * Key column types whose driver text (how rows' keys are written here) is
 * the same as Postgres's `::text` (how lock rows report their keys), and
 * whose values are equal only when their texts are: a row and a lock of
 * one key can be matched by text, and keys of distinct texts never collide.
 */
const TEXT_STABLE_TYPES = /^(integer|bigint|smallint|serial|bigserial|smallserial|text|varchar(\(\d+\))?)$/;

export function hasStableKeyText(column: ColumnMeta): boolean {
  return TEXT_STABLE_TYPES.test(column.sqlType);
}
