import { bigintJson } from '../errors.js';
import type { TableMeta } from '../schema/table-meta.js';
import type { KeyValues, Row } from '../txn/engine-contract.js';

/** @internal Primary-key values of a row, in primary-key order (the engine's key). */
export function keyOf(meta: TableMeta, row: Row): KeyValues {
  return meta.primaryKey.map((c) => row[c.key]);
}

/** @internal A string identifying a key, for finding duplicates among rows. */
export function keyString(key: KeyValues): string {
  return JSON.stringify(key, (k, v: unknown) => (v instanceof Date ? v.toISOString() : bigintJson(k, v)));
}
