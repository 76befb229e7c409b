import type { ReadKey, RecordedReads, ScannedPredicate } from './read-set-types.js';

/** Everything a transaction read: serializable mode validates it at commit. */
export class ReadSet implements RecordedReads {
  readonly keys: ReadKey[] = [];
  readonly predicates: ScannedPredicate[] = [];
  private readonly seen = new Set<string>();

  addKey(key: ReadKey): void {
    const id = `${key.table}\u0000${JSON.stringify(key.keyTexts)}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.keys.push(key);
  }

  addPredicate(predicate: ScannedPredicate): void {
    this.predicates.push(predicate);
  }

  get empty(): boolean {
    return this.keys.length === 0 && this.predicates.length === 0;
  }
}
