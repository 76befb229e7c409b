import type { PgColumn } from 'drizzle-orm/pg-core';
import { SchemaError } from '../errors.js';
import type { ColumnMeta, TableMeta } from '../schema/table-meta.js';

/**
 * @internal How a serial or identity column's values are generated: the
 * sequence a Postgres server would keep for it (start, step, last value),
 * and whether values are JS bigints (`bigserial`/`bigint` in bigint mode).
 * Values come from cluster-wide blocks (id-blocks.ts), never from storage.
 */
export interface GeneratedIdSpec {
  /** Allocator row of this column: `table.column` (SQL names). */
  readonly name: string;
  readonly start: bigint;
  readonly increment: bigint;
  readonly max: bigint;
  readonly bigint: boolean;
  /** `generated always as identity`: a value given by the application is refused, as Postgres does. */
  readonly always: boolean;
}

const INT4_MAX = 2n ** 31n - 1n;
const RANGE: Record<string, { max: bigint; bigint: boolean }> = {
  PgSerial: { max: INT4_MAX, bigint: false },
  PgInteger: { max: INT4_MAX, bigint: false },
  PgSmallSerial: { max: 2n ** 15n - 1n, bigint: false },
  PgSmallInt: { max: 2n ** 15n - 1n, bigint: false },
  PgBigSerial53: { max: BigInt(Number.MAX_SAFE_INTEGER), bigint: false },
  PgBigInt53: { max: BigInt(Number.MAX_SAFE_INTEGER), bigint: false },
  PgBigSerial64: { max: 2n ** 63n - 1n, bigint: true },
  PgBigInt64: { max: 2n ** 63n - 1n, bigint: true },
};

/** The generation of a serial/identity column, undefined for any other column; SchemaError for sequences percolator cannot honour. */
export function generatedIdSpec(meta: Pick<TableMeta, 'name'>, column: ColumnMeta): GeneratedIdSpec | undefined {
  const c: PgColumn = column.column;
  const identity = c.generatedIdentity;
  if (!identity && !c.columnType.includes('Serial')) return undefined;
  const range = RANGE[c.columnType];
  const where = `${meta.name}.${column.key}`;
  if (!range) throw new SchemaError(`${where}: identity on ${c.getSQLType()} is not supported (integer types only)`);
  const options = identity?.sequenceOptions ?? {};
  if (options.cycle) throw new SchemaError(`${where}: cycling sequences are not supported (ids would repeat)`);
  const increment = bigintOption(options.increment, 1n, where, 'increment');
  if (increment <= 0n) throw new SchemaError(`${where}: only positive sequence increments are supported, got ${increment}`);
  const max = options.maxValue === undefined ? range.max : bigintOption(options.maxValue, range.max, where, 'maxValue');
  const start = bigintOption(options.startWith, options.minValue === undefined ? 1n : bigintOption(options.minValue, 1n, where, 'minValue'), where, 'startWith');
  if (start > max || max > range.max) throw new SchemaError(`${where}: sequence range ${start}..${max} does not fit ${c.getSQLType()}`);
  return { name: `${meta.name}.${column.name}`, start, increment, max, bigint: range.bigint, always: identity?.type === 'always' };
}

function bigintOption(value: number | string | undefined, fallback: bigint, where: string, what: string): bigint {
  if (value === undefined) return fallback;
  try {
    return BigInt(value);
  } catch {
    throw new SchemaError(`${where}: sequence ${what} ${String(value)} is not an integer`);
  }
}
