import type { KeyTexts } from '../shard/key-text.js';
import type { LockWrite } from '../shard/prewrite-statements.js';
import type { TableStorage } from '../shard/table-storage.js';
import type { Mutation } from './mutation.js';

/** How much one statement may carry: rows, and bytes of parameter text. */
export interface ChunkLimits {
  readonly rows: number;
  readonly bytes: number;
}

/**
 * The engine's default limits (options chunkRows and chunkBytes). Bytes: a
 * statement of 5,000 rows of up to 1 MiB each would be gigabytes (past what
 * Postgres and V8 take in one message or string); a few MiB per statement
 * already amortise its round trip.
 */
export const DEFAULT_CHUNK_LIMITS: ChunkLimits = { rows: 5000, bytes: 4 * 1024 * 1024 };

/** Roughly what a row adds to a statement's parameters: its text values (array quoting and UTF-8 may add up to a few times this). */
const PER_VALUE_BYTES = 4;

/** Parameter bytes of a key (statements that carry keys only: commit, rollback, point reads). */
export function keyBytes(keyTexts: KeyTexts): number {
  let bytes = 0;
  for (const text of keyTexts) bytes += (text?.length ?? 0) + PER_VALUE_BYTES;
  return bytes;
}

/** Parameter bytes of a mutation's whole image (prewrite carries key and values). */
export function rowBytes(m: Pick<LockWrite, 'keyTexts' | 'valueTexts'>): number {
  let bytes = keyBytes(m.keyTexts);
  if (m.valueTexts) for (const text of m.valueTexts) bytes += (text?.length ?? 0) + PER_VALUE_BYTES;
  return bytes;
}

/**
 * Splits one shard's mutations into per-table chunks of at most
 * `limits.rows` rows and about `limits.bytes` bytes (`sizeOf` each; a
 * single larger row still goes, alone), so that statement size and memory
 * stay bounded however large the rows.
 */
export function tableChunks(
  mutations: readonly Mutation[],
  limits: ChunkLimits,
  sizeOf: (m: Mutation) => number = (m) => keyBytes(m.keyTexts),
): { storage: TableStorage; rows: Mutation[] }[] {
  const chunks: { storage: TableStorage; rows: Mutation[] }[] = [];
  let current: { storage: TableStorage; rows: Mutation[] } | undefined;
  let bytes = 0;
  for (const m of mutations) {
    const size = sizeOf(m);
    if (!current || current.storage !== m.storage || current.rows.length >= limits.rows || (current.rows.length > 0 && bytes + size > limits.bytes)) {
      current = { storage: m.storage, rows: [] };
      chunks.push(current);
      bytes = 0;
    }
    current.rows.push(m);
    bytes += size;
  }
  return chunks;
}

/** Whether one statement may carry all these mutations (whatever their tables): at most `limits.rows` rows and `limits.bytes` bytes. */
export function fitsOneChunk(mutations: readonly Mutation[], limits: ChunkLimits, sizeOf: (m: Mutation) => number = (m) => keyBytes(m.keyTexts)): boolean {
  if (mutations.length > limits.rows) return false;
  let bytes = 0;
  for (const m of mutations) bytes += sizeOf(m);
  return mutations.length <= 1 || bytes <= limits.bytes;
}

/** Splits keys into chunks of at most `limits.rows` keys and about `limits.bytes` bytes (lock resolution of a large transaction). */
export function keyChunks<T extends { keyTexts: KeyTexts }>(items: readonly T[], limits: ChunkLimits = DEFAULT_CHUNK_LIMITS): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = keyBytes(item.keyTexts);
    if (current.length >= limits.rows || (current.length > 0 && bytes + size > limits.bytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
