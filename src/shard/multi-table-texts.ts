import type { TableSql } from './table-sql.js';

/**
 * Texts of statements over several tables of one shard (prewrite, commit),
 * built once per combination of tables and kept, like
 * TableSql.statementText for one table. A table is identified by its name
 * and its columns' fingerprint: a client learning a shard's stored columns
 * (stored-columns.ts), or two declarations of one table in a process,
 * must never be handed a text built for other columns.
 */
export class MultiTableTexts {
  private readonly texts = new Map<string, string>();

  /** `limit`: distinct combinations kept; beyond them, texts are built per call. */
  constructor(private readonly limit = 1000) {}

  /** `variants[i]`: what else shapes table i's part of the text (a plan choice). */
  text(tables: readonly TableSql[], variants: readonly string[], build: () => string): string {
    const id = tables.map((t, i) => `${t.meta.name}\u0001${t.columnsFingerprint}\u0001${variants[i] ?? ''}`).join('\u0000');
    let text = this.texts.get(id);
    if (text === undefined) {
      text = build();
      if (this.texts.size < this.limit) this.texts.set(id, text);
    }
    return text;
  }
}
