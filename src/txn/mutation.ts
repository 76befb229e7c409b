import { InvalidInputError } from '../errors.js';
import type { KeyValues, Row } from '../schema/row.js';
import { toDriverText } from '../shard/driver-values.js';
import { keyTextOf, type KeyTexts } from '../shard/key-text.js';
import type { LockWrite } from '../shard/prewrite-statements.js';
import { slotOfKey } from '../shard/shard-of.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { Placement } from './placement.js';

/** One buffered write: the new image (put), a deletion (del) or a lock-only key. */
export interface Mutation extends LockWrite {
  readonly storage: TableStorage;
  /** Canonical identity of the key within its table (JSON of the key's driver texts). */
  readonly keyId: string;
  readonly key: KeyValues;
  readonly keyTexts: KeyTexts;
  /** The key's slot (the shard checks it still owns it at prewrite) and the slot's shard in the map the write was placed by. */
  readonly slot: number;
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

/** The write of `row` (its new image, or its key's deletion), placed by the current placement map. */
export function mutationOf(storage: TableStorage, row: Row, op: 'put' | 'del', isInsert: boolean, placement: Placement): Mutation {
  const key = storage.pk.map((c) => row[c.key]);
  const keyTexts = keyTextsOf(storage, key);
  const slot = slotOfKey(storage.meta, keyTexts);
  return {
    storage,
    keyId: keyIdOf(keyTexts),
    key,
    keyTexts,
    slot,
    shard: placement.map.shardOfSlot(slot),
    op,
    isInsert,
    row: op === 'put' ? row : undefined,
    valueTexts: op === 'put' ? storage.valueColumns.map((c) => toDriverText(c, row[c.key])) : undefined,
  };
}
