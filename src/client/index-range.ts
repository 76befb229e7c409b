import { and, Column, Param, SQL, StringChunk } from 'drizzle-orm';
import type { ColumnMeta, IndexMeta, TableMeta } from '../schema/table-meta.js';
import { isEntity } from './drizzle-entity.js';
import type { OrderTerm } from './order-by.js';
import { chunkText, junctionOperands, meaningfulChunks } from './sql-chunks.js';

/**
 * @internal A read through an index's order: the entries whose leading
 * columns are fixed by `eq` (a prefix, possibly empty) and whose next
 * column is in a range (`gt`, `gte`, `lt`, `lte`, `between`), or, for an
 * ordered read with a limit, the first entries in that column's order.
 * Each shard reads its entries through the btree of the index's storage.
 */
export interface IndexRange {
  readonly index: IndexMeta;
  /** The filter over the entries (aliased as the table): the conjuncts of the user's filter they can answer; undefined: every entry. */
  readonly entryFilter: SQL | undefined;
  /** The entries answer the whole filter: a row matches iff its entry does (no second look at the rows). */
  readonly exact: boolean;
  /** The ordering and limit the entries' read may take (exact filters ordered by entry columns only): only the first entries are read. */
  readonly ordered: boolean;
}

const RANGE_OPERATORS = new Set([' > ', ' >= ', ' < ', ' <= ', ' between ']);

/**
 * @internal The index whose order serves a filter's range, or an ordered
 * and limited read, among `usable`; undefined when none does. For a
 * filter: `eq` on the index's first k columns (k >= 0) and a range on
 * column k+1, as top-level conjuncts. Without a range: an orderBy whose
 * first term is column k+1 and a limit (the first entries in order).
 * Rows with a NULL in an indexed column have no entry, so the columns
 * after the range (all of them for an ordered read) must be NOT NULL.
 * Among candidates, the one with the longest fixed prefix.
 */
export function chooseIndexRange(
  meta: TableMeta,
  where: SQL | undefined,
  orderBy: readonly OrderTerm[],
  limit: number | undefined,
  usable: readonly IndexMeta[] = meta.indexes,
): IndexRange | undefined {
  const conjuncts = where ? flattenAnd(where) : [];
  let best: { range: IndexRange; score: number } | undefined;
  for (const index of usable) {
    const used: SQL[] = [];
    let k = 0;
    for (; k < index.columns.length; k++) {
      const fixed = conjuncts.find((c) => comparisonOn(c, index.columns[k]!, [' = ']));
      if (!fixed) break;
      used.push(fixed);
    }
    if (k === index.columns.length) continue; // fixed whole: chooseIndex's business
    const column = index.columns[k]!;
    const ranges = conjuncts.filter((c) => comparisonOn(c, column, RANGE_OPERATORS));
    const orderedOnly = ranges.length === 0;
    if (orderedOnly && (limit === undefined || orderBy[0]?.column !== column || !column.notNull)) continue;
    if (index.columns.slice(k + 1).some((c) => !c.notNull)) continue;
    used.push(...ranges);
    const entryColumns = new Set(index.storage.columns.map((c) => c.column));
    const answerable = conjuncts.filter((c) => columnsIn(c)?.every((col) => entryColumns.has(col as never)) === true);
    const exact = answerable.length === conjuncts.length;
    const entryFilter = (exact ? conjuncts : used).length > 0 ? and(...(exact ? conjuncts : used)) : undefined;
    // Ordered and limited at the entries only when they answer the whole filter and the ordering is theirs.
    const ordered = exact && limit !== undefined && orderBy.length > 0 && orderBy.every((t) => entryColumns.has(t.column.column as never));
    if (orderedOnly && !ordered) continue;
    const score = k * 10 + (ranges.length > 0 ? 5 : 0) + (ordered ? 1 : 0);
    if (!best || score > best.score) best = { range: { index, entryFilter, exact, ordered }, score };
  }
  return best?.range;
}

/** The operands of nested and()s, or the node itself. */
function flattenAnd(node: SQL): SQL[] {
  const operands = junctionOperands(node, ' and ');
  return operands ? operands.flatMap(flattenAnd) : [node];
}

/** `column <op> $param` (or `column between $a and $b`) with values bound to this column. */
function comparisonOn(node: SQL, column: ColumnMeta, operators: ReadonlySet<string> | readonly string[]): boolean {
  const chunks = meaningfulChunks(node);
  if (chunks.length < 3 || chunks[0] !== column.column) return false;
  const operator = chunkText(chunks[1]);
  if (operator === undefined || !(operators instanceof Set ? operators.has(operator) : (operators as readonly string[]).includes(operator))) return false;
  const bound = (chunk: unknown) => isEntity(chunk, Param) && (chunk.encoder as unknown) === column.column && chunk.value !== null && chunk.value !== undefined;
  if (operator === ' between ') return chunks.length === 5 && bound(chunks[2]) && chunkText(chunks[3]) === ' and ' && bound(chunks[4]);
  return chunks.length === 3 && bound(chunks[2]);
}

/** The columns a filter names, or undefined when it holds anything but columns, values and SQL text (a subquery, a table). */
function columnsIn(node: SQL): unknown[] | undefined {
  const found: unknown[] = [];
  const visit = (chunk: unknown): boolean => {
    if (isEntity(chunk, Column)) return found.push(chunk) > 0;
    if (isEntity(chunk, SQL)) return chunk.queryChunks.every(visit);
    if (Array.isArray(chunk)) return chunk.every(visit);
    return isEntity(chunk, StringChunk) || isEntity(chunk, Param);
  };
  return visit(node) ? found : undefined;
}
