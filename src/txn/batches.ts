import type { TableStorage } from '../shard/table-storage.js';
import type { Mutation } from './mutation.js';

/** Splits one shard's mutations into per-table chunks of at most `size` rows (statement size and memory stay bounded). */
export function tableChunks(mutations: readonly Mutation[], size: number): { storage: TableStorage; rows: Mutation[] }[] {
  const chunks: { storage: TableStorage; rows: Mutation[] }[] = [];
  let current: { storage: TableStorage; rows: Mutation[] } | undefined;
  for (const m of mutations) {
    if (!current || current.storage !== m.storage || current.rows.length >= size) {
      current = { storage: m.storage, rows: [] };
      chunks.push(current);
    }
    current.rows.push(m);
  }
  return chunks;
}
