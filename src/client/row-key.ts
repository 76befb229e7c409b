import { bigintJson } from '../errors.js';
import type { TableMeta } from '../schema/table-meta.js';
import type { KeyValues, Row } from '../txn/engine-contract.js';
import { canonicalKeyValue } from './key-values.js';

/**
 * @internal Primary-key values of a row, in primary-key order (the engine's
 * key), each in canonical form (key-values.ts): a row read back as
 * `numeric(6, 2)` '1.50' and a filter's '1.5' are one key.
 */
export function keyOf(meta: TableMeta, row: Row): KeyValues {
  return meta.primaryKey.map((c) => canonicalKeyValue(c.column, row[c.key]));
}

/** @internal A string identifying a key, for finding duplicates among rows. */
export function keyString(key: KeyValues): string {
  return JSON.stringify(key, (k, v: unknown) => (v instanceof Date ? v.toISOString() : bigintJson(k, v)));
}

/**
 * @internal A Map/Set key identifying a primary key: a single primitive
 * value is its own identity (Map tells 1, 1n and '1' apart, and values were
 * type-checked against their column), anything else its keyString. Spares
 * a JSON.stringify per key on the usual one-column keys.
 */
export function keyId(key: KeyValues): unknown {
  if (key.length === 1) {
    const value = key[0];
    if (typeof value !== 'object' || value === null) return value;
  }
  return keyString(key);
}

/** @internal keyId(keyOf(meta, row)) without the key's array on the usual one-column keys. */
export function rowKeyId(meta: TableMeta, row: Row): unknown {
  if (meta.primaryKey.length !== 1) return keyId(keyOf(meta, row));
  const c = meta.primaryKey[0]!;
  const value = canonicalKeyValue(c.column, row[c.key]);
  return typeof value !== 'object' || value === null ? value : keyString([value]);
}
