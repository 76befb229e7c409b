import type { KeyTexts } from '../shard/key-text.js';
import type { LockWrite } from '../shard/prewrite-statements.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { KeyValues, Row } from './engine-contract.js';

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
