import type { KeyTexts } from '../shard/key-text.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { Timestamp } from '../timestamp.js';

/** A lock of another transaction met by a read or a prewrite. */
export interface FoundLock {
  readonly storage: TableStorage;
  readonly shard: number;
  readonly keyTexts: KeyTexts;
  readonly startTs: Timestamp;
  readonly primaryTable: string;
  readonly primaryKey: KeyTexts;
  /** The lock's own TTL ran out (judged by its shard's clock). */
  readonly expired: boolean;
}
