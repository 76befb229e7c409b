import type { Mutation } from './mutation.js';

/**
 * The transaction's writes, kept in the client until commit: the last write
 * of a key wins. Iteration order is stable (sorted by table, then key) so
 * that concurrent prewrites lock keys of a shard in the same order and do
 * not deadlock inside Postgres.
 */
export class WriteBuffer {
  private readonly byTable = new Map<string, Map<string, Mutation>>();

  get(table: string, keyId: string): Mutation | undefined {
    return this.byTable.get(table)?.get(keyId);
  }

  set(mutation: Mutation): void {
    let table = this.byTable.get(mutation.storage.meta.name);
    if (!table) this.byTable.set(mutation.storage.meta.name, (table = new Map()));
    table.set(mutation.keyId, mutation);
  }

  /** Replaces every buffered write of `table` (the entries of an index, recomputed from the rows: index-writes.ts). */
  replaceTable(table: string, mutations: readonly Mutation[]): void {
    if (mutations.length === 0) {
      this.byTable.delete(table);
      return;
    }
    this.byTable.set(table, new Map(mutations.map((m) => [m.keyId, m])));
  }

  get size(): number {
    let n = 0;
    for (const t of this.byTable.values()) n += t.size;
    return n;
  }

  /** Buffered writes of one table on one shard (merged into reads there). */
  forTableOnShard(table: string, shard: number): Mutation[] {
    const t = this.byTable.get(table);
    if (!t) return [];
    return [...t.values()].filter((m) => m.shard === shard && m.op !== 'lock');
  }

  /**
   * All mutations grouped by shard, each group sorted by (table, key);
   * `lockOnly` (a pessimistic primary the transaction did not write) joins
   * them when the buffer has no write of its key.
   */
  byShard(lockOnly?: Mutation): Map<number, Mutation[]> {
    const groups = new Map<number, Mutation[]>();
    const extraTable = lockOnly && !this.get(lockOnly.storage.meta.name, lockOnly.keyId) ? lockOnly.storage.meta.name : undefined;
    for (const table of [...new Set([...this.byTable.keys(), ...(extraTable ? [extraTable] : [])])].sort()) {
      const entries = [...(this.byTable.get(table)?.values() ?? []), ...(table === extraTable ? [lockOnly!] : [])].sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0));
      for (const m of entries) {
        let g = groups.get(m.shard);
        if (!g) groups.set(m.shard, (g = []));
        g.push(m);
      }
    }
    return groups;
  }
}
