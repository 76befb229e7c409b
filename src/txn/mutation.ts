import { InvalidInputError } from '../errors.js';
import type { KeyValues, Row } from '../schema/row.js';
import { toDriverText } from '../shard/driver-values.js';
import { keyTextOf, type KeyTexts } from '../shard/key-text.js';
import type { LockWrite } from '../shard/prewrite-statements.js';
import { shardOfKey } from '../shard/shard-of.js';
import type { TableStorage } from '../shard/table-storage.js';

/** One buffered write: the new image (put), a deletion (del) or a lock-only key. */
export interface Mutation extends LockWrite {
  readonly storage: TableStorage;
  /** Canonical identity of the key within its table (JSON of the key's driver texts). */
  readonly keyId: string;
  readonly key: KeyValues;
  readonly keyTexts: KeyTexts;
  readonly shard: number;
  readonly op: 'put' | 'del' | 'lock';
  readonly isInsert: boolean;
  readonly row?: Row | undefined;
  readonly valueTexts?: readonly (string | null)[] | undefined;
}

export function keyIdOf(keyTexts: KeyTexts): string {
  return JSON.stringify(keyTexts);
}

/** The key texts of a primary key's values; InvalidInputError for a wrong number of values or a null. */
export function keyTextsOf(storage: TableStorage, key: KeyValues): KeyTexts {
  if (key.length !== storage.pk.length) {
    throw new InvalidInputError(`key of ${storage.meta.name} needs ${storage.pk.length} values (${storage.pk.map((c) => c.key).join(', ')}), got ${key.length}`);
  }
  return storage.pk.map((c, i) => {
    const text = keyTextOf(c, key[i]);
    if (text === null) throw new InvalidInputError(`primary key column ${storage.meta.name}.${c.key} must not be null`);
    return text;
  });
}

/** The write of `row` (its new image, or its key's deletion), placed on one of `shardCount` shards. */
export function mutationOf(storage: TableStorage, row: Row, op: 'put' | 'del', isInsert: boolean, shardCount: number): Mutation {
  const key = storage.pk.map((c) => row[c.key]);
  const keyTexts = keyTextsOf(storage, key);
  return {
    storage,
    keyId: keyIdOf(keyTexts),
    key,
    keyTexts,
    shard: shardOfKey(storage.meta, keyTexts, shardCount),
    op,
    isInsert,
    row: op === 'put' ? row : undefined,
    valueTexts: op === 'put' ? storage.valueColumns.map((c) => toDriverText(c, row[c.key])) : undefined,
  };
}
