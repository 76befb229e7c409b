import { Column, Name, Param, SQL, StringChunk } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { InvalidInputError } from '../errors.js';
import type { ColumnMeta, TableMeta } from '../schema/table-meta.js';
import type { Row } from '../txn/engine-contract.js';
import { isEntity } from './drizzle-entity.js';

const EXCLUDED = /\bexcluded\s*\.\s*(?:"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*))/gi;
const EXCLUDED_DOT_AT_END = /\bexcluded\s*\.\s*$/i;

/** @internal Whether an upsert's `set` value or `where` mentions `excluded.<column>` (the row proposed for insertion). */
export function mentionsExcluded(value: unknown): boolean {
  if (!isEntity(value, SQL)) return false;
  return value.queryChunks.some((chunk) => {
    if (isEntity(chunk, StringChunk)) return /\bexcluded\s*\./i.test(chunk.value.join(''));
    return mentionsExcluded(chunk);
  });
}

/**
 * @internal `expression` with every `excluded.<column>` (as Postgres's
 * `on conflict do update` names the row proposed for insertion: written in
 * the text, `sql.raw('excluded.balance')`, or `excluded.${sql.identifier('balance')}`)
 * replaced by that row's value, bound as a parameter of the column. What is
 * left is an expression over the existing row's columns, checked and
 * evaluated as any update expression.
 */
export function bindExcluded(meta: TableMeta, expression: SQL, proposed: Row, clause: string): SQL {
  const chunks: unknown[] = [];
  const source = expression.queryChunks;
  for (let i = 0; i < source.length; i++) {
    const chunk = source[i];
    if (isEntity(chunk, SQL)) {
      chunks.push(bindExcluded(meta, chunk, proposed, clause));
      continue;
    }
    if (!isEntity(chunk, StringChunk)) {
      chunks.push(chunk);
      continue;
    }
    let text = chunk.value.join('');
    // `excluded.` followed by an interpolated name or column: the next chunk says which.
    const next = source[i + 1];
    let trailing: ColumnMeta | undefined;
    if (EXCLUDED_DOT_AT_END.test(text) && (isEntity(next, Name) || isEntity(next, Column))) {
      const name = isEntity(next, Name) ? next.value : (next as PgColumn).name;
      trailing = columnNamed(meta, name, true, clause);
      text = text.replace(EXCLUDED_DOT_AT_END, '');
      i++;
    }
    let last = 0;
    for (const match of text.matchAll(EXCLUDED)) {
      chunks.push(new StringChunk(text.slice(last, match.index)));
      const quoted = match[1];
      const column = quoted !== undefined ? columnNamed(meta, quoted.replace(/""/g, '"'), true, clause) : columnNamed(meta, match[2]!, false, clause);
      chunks.push(valueOf(column, proposed));
      last = match.index + match[0].length;
    }
    chunks.push(new StringChunk(text.slice(last)));
    if (trailing) chunks.push(valueOf(trailing, proposed));
  }
  return new SQL(chunks as SQL['queryChunks']);
}

function valueOf(column: ColumnMeta, proposed: Row): Param {
  return new Param(proposed[column.key] ?? null, column.column);
}

/** The column an `excluded.<name>` names: by SQL name, exactly when quoted, else folded to lower case as Postgres does. */
function columnNamed(meta: TableMeta, name: string, quoted: boolean, clause: string): ColumnMeta {
  const sqlName = quoted ? name : name.toLowerCase();
  const column = meta.columns.find((c) => c.name === sqlName);
  if (!column) throw new InvalidInputError(`${clause}: excluded.${name} is not a column of ${meta.name} (columns: ${meta.columns.map((c) => c.name).join(', ')})`);
  return column;
}
