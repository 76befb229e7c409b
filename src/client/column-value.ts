import { PgArray, type PgColumn } from 'drizzle-orm/pg-core';
import { bigintJson } from '../errors.js';
import { isEntity } from './drizzle-entity.js';

/**
 * @internal Checks one JS value against a drizzle column: the JS type drizzle
 * maps the column to (its `columnType`, else its `dataType`), integer ranges,
 * varchar/char lengths, enum members. Returns a reason or undefined when fine.
 * `null` is not judged here (not-null is the caller's business).
 */
export function checkColumnValue(column: PgColumn, value: unknown): string | undefined {
  if (value === null) return undefined;
  switch (column.columnType) {
    case 'PgInteger':
    case 'PgSerial':
      return checkInteger(value, -(2 ** 31), 2 ** 31 - 1, 'a 32-bit integer');
    case 'PgSmallInt':
    case 'PgSmallSerial':
      return checkInteger(value, -(2 ** 15), 2 ** 15 - 1, 'a 16-bit integer');
    case 'PgBigInt53':
    case 'PgBigSerial53':
      return checkInteger(value, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'a safe integer (bigint mode "number")');
    case 'PgBigInt64':
    case 'PgBigSerial64':
    case 'PgNumericBigInt':
      if (typeof value !== 'bigint') return `expected a bigint, got ${describeValue(value)}`;
      if (column.columnType !== 'PgNumericBigInt' && (value < -(2n ** 63n) || value >= 2n ** 63n)) return `${value} is outside the 64-bit range`;
      return undefined;
    case 'PgReal':
    case 'PgDoublePrecision':
      return typeof value === 'number' ? undefined : `expected a number, got ${describeValue(value)}`;
    case 'PgNumericNumber':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : `expected a finite number, got ${describeValue(value)}`;
    case 'PgNumeric':
      if (typeof value !== 'string') return `expected a decimal string such as "12.50" (drizzle maps numeric to string), got ${describeValue(value)}`;
      return DECIMAL.test(value) || value === 'NaN' ? undefined : `${JSON.stringify(value)} is not a decimal number`;
    case 'PgText':
    case 'PgVarchar':
    case 'PgChar':
      return checkText(column, value);
    case 'PgUUID':
      if (typeof value !== 'string') return `expected a uuid string, got ${describeValue(value)}`;
      return UUID.test(value) ? undefined : `${JSON.stringify(value)} is not a uuid`;
    case 'PgBoolean':
      return typeof value === 'boolean' ? undefined : `expected a boolean, got ${describeValue(value)}`;
    case 'PgTimestamp':
    case 'PgDate':
      if (!(value instanceof Date)) return `expected a Date, got ${describeValue(value)}`;
      return Number.isNaN(value.getTime()) ? 'the Date is invalid' : undefined;
    case 'PgJson':
    case 'PgJsonb':
      return checkJson(value);
    case 'PgEnumColumn':
    case 'PgEnumObjectColumn':
      return checkEnum(column, value);
    case 'PgArray':
      return checkArray(column, value);
    default:
      return checkByDataType(column, value);
  }
}

/** Encoded size estimate of a value, in bytes, for the row-size cap. */
export function valueBytes(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number' || typeof value === 'bigint' || value instanceof Date) return 8;
  if (typeof value === 'boolean') return 1;
  if (value instanceof Uint8Array) return value.byteLength;
  return Buffer.byteLength(JSON.stringify(value, bigintJson) ?? '');
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a Date';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value) : String(value);
  return `${typeof value} ${shown}`;
}

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkInteger(value: unknown, min: number, max: number, what: string): string | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value)) return `expected ${what}, got ${describeValue(value)}`;
  return value < min || value > max ? `${value} is outside the range of ${what}` : undefined;
}

function checkText(column: PgColumn, value: unknown): string | undefined {
  if (typeof value !== 'string') return `expected a string, got ${describeValue(value)}`;
  // Postgres text cannot hold NUL; the shard would refuse it mid-commit.
  if (value.includes('\u0000')) return 'strings cannot contain NUL (\\u0000) characters in Postgres';
  const length = (column as PgColumn & { length?: number }).length;
  // Postgres counts characters (code points), not UTF-16 units.
  if (length !== undefined && countCodePoints(value) > length) return `string of ${countCodePoints(value)} characters exceeds ${column.getSQLType()}`;
  return column.enumValues && column.enumValues.length > 0 ? checkEnum(column, value) : undefined;
}

function checkEnum(column: PgColumn, value: unknown): string | undefined {
  if (typeof value !== 'string') return `expected one of ${JSON.stringify(column.enumValues)}, got ${describeValue(value)}`;
  const members = column.enumValues ?? [];
  return members.length === 0 || members.includes(value) ? undefined : `${JSON.stringify(value)} is not one of ${JSON.stringify(members)}`;
}

function checkJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value) === undefined ? `${describeValue(value)} is not JSON-serializable` : undefined;
  } catch (error) {
    return `value is not JSON-serializable: ${(error as Error).message}`;
  }
}

function checkArray(column: PgColumn, value: unknown): string | undefined {
  if (!Array.isArray(value)) return `expected an array, got ${describeValue(value)}`;
  const element = isEntity(column, PgArray) ? column.baseColumn : undefined;
  if (!element) return undefined;
  for (const [i, item] of value.entries()) {
    const problem = checkColumnValue(element, item);
    if (problem) return `element ${i}: ${problem}`;
  }
  return undefined;
}

function checkByDataType(column: PgColumn, value: unknown): string | undefined {
  switch (column.dataType) {
    case 'string':
    case 'number':
    case 'bigint':
    case 'boolean':
      return typeof value === column.dataType ? undefined : `expected a ${column.dataType}, got ${describeValue(value)}`;
    case 'date':
      return value instanceof Date && !Number.isNaN(value.getTime()) ? undefined : `expected a valid Date, got ${describeValue(value)}`;
    case 'json':
      return checkJson(value);
    case 'array':
      return Array.isArray(value) ? undefined : `expected an array, got ${describeValue(value)}`;
    case 'buffer':
      return value instanceof Uint8Array ? undefined : `expected a Buffer, got ${describeValue(value)}`;
    default:
      return undefined; // custom types: drizzle's mapper decides
  }
}

function countCodePoints(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}
