import { Column, Param, type SQL } from 'drizzle-orm';
import type { ColumnMeta, TableMeta } from '../schema/table-meta.js';
import type { KeyValues, Row } from '../txn/engine-contract.js';
import { keyId } from './row-key.js';
import { chunkText, junctionOf, meaningfulChunks } from './sql-chunks.js';
import { isEntity } from './drizzle-entity.js';
import { canonicalKeyValue, isKeyType, keyValueProblem } from './key-values.js';

/** Most key tuples a filter may enumerate before it counts as a scan. */
export const MAX_KEY_TUPLES = 1024;

/** Column key → the values a matching row's column may have; a conjunction. */
export type KeyConstraint = ReadonlyMap<string, readonly unknown[]>;

/**
 * @internal What a filter says about the primary-key columns: a disjunction
 * of conjunctive constraints (`alternatives`), and whether the filter is
 * nothing else (`exact`: a row matches iff it satisfies some alternative).
 * Understood: `eq(col, value)`, `inArray(col, values)`, and(), or().
 * Undefined when the filter names too many keys to be worth enumerating.
 */
export interface KeyFilter {
  readonly alternatives: readonly KeyConstraint[];
  readonly exact: boolean;
}

export function analyzeKeyFilter(meta: TableMeta, where: SQL): KeyFilter | undefined {
  return analyze(meta.primaryKey, where);
}

/** @internal The same analysis over other columns (an index's): what `eq`/`inArray` fix of them. */
export function analyzeColumnFilter(columns: readonly ColumnMeta[], where: SQL): KeyFilter | undefined {
  return analyze(columns, where);
}

/**
 * @internal The key tuples (over `columns`) a filter allows, or undefined
 * when some alternative leaves a column free (any value possible) or there
 * are too many.
 */
export function keyTuples(filter: KeyFilter, columns: readonly ColumnMeta[]): Row[] | undefined {
  const tuples = new Map<unknown, Row>();
  for (const constraint of filter.alternatives) {
    const valueLists = columns.map((c) => constraint.get(c.key));
    if (valueLists.some((v) => v === undefined)) return undefined;
    if (columns.length === 1) {
      // The usual one-column key: no cross product to build.
      const key = columns[0]!.key;
      for (const value of valueLists[0]!) {
        tuples.set(keyId([value]), { [key]: value });
        if (tuples.size > MAX_KEY_TUPLES) return undefined;
      }
      continue;
    }
    for (const row of crossProduct(columns, valueLists as unknown[][])) {
      tuples.set(keyId(columns.map((c) => row[c.key])), row);
      if (tuples.size > MAX_KEY_TUPLES) return undefined;
    }
  }
  return [...tuples.values()];
}

/** @internal The primary keys an exact key filter names, or undefined if it is not one. */
export function exactKeys(meta: TableMeta, filter: KeyFilter): KeyValues[] | undefined {
  if (!filter.exact || !meta.primaryKey.every((c) => isKeyType(c.column))) return undefined;
  return keyTuples(filter, meta.primaryKey)?.map((row) => meta.primaryKey.map((c) => row[c.key]));
}

/** @internal Whether filters on these columns may be analysed as keys. */
export function areKeyColumns(columns: readonly ColumnMeta[]): boolean {
  return columns.every((c) => isKeyType(c.column));
}

function analyze(columns: readonly ColumnMeta[], node: SQL): KeyFilter | undefined {
  // Unwrapped once: the junctions and the leaf all look at these.
  const chunks = meaningfulChunks(node);
  const conjuncts = junctionOf(chunks, ' and ');
  if (conjuncts) {
    let alternatives: KeyConstraint[] = [new Map()];
    let exact = true;
    for (const operand of conjuncts) {
      const inner = analyze(columns, operand);
      if (!inner) return undefined;
      exact &&= inner.exact;
      alternatives = alternatives.flatMap((left) => inner.alternatives.flatMap((right) => intersect(left, right)));
      if (alternatives.length > MAX_KEY_TUPLES) return undefined;
    }
    return { alternatives, exact };
  }
  const disjuncts = junctionOf(chunks, ' or ');
  if (disjuncts) {
    const alternatives: KeyConstraint[] = [];
    let exact = true;
    for (const operand of disjuncts) {
      const inner = analyze(columns, operand);
      if (!inner) return undefined;
      exact &&= inner.exact;
      alternatives.push(...inner.alternatives);
    }
    return alternatives.length > MAX_KEY_TUPLES ? undefined : { alternatives, exact };
  }
  const leaf = keyLeaf(columns, chunks);
  return leaf ? { alternatives: [new Map([leaf])], exact: true } : { alternatives: [new Map()], exact: false };
}

/** Both constraints at once; [] when they contradict (no row can match). */
function intersect(left: KeyConstraint, right: KeyConstraint): KeyConstraint[] {
  const merged = new Map(left);
  for (const [column, values] of right) {
    const existing = merged.get(column);
    if (existing === undefined) {
      merged.set(column, values);
      continue;
    }
    const allowed = new Set(values.map((v) => keyId([v])));
    const both = existing.filter((v) => allowed.has(keyId([v])));
    if (both.length === 0) return [];
    merged.set(column, both);
  }
  return [merged];
}

/**
 * `eq(column, v)` or `inArray(column, [...])` on one of `columns` → [column
 * key, values], values in canonical form (key-values.ts), so that every
 * spelling of a key (an upper-case uuid, '1.50') names the stored key.
 */
function keyLeaf(columns: readonly ColumnMeta[], chunks: readonly unknown[]): [string, unknown[]] | undefined {
  if (chunks.length !== 3 || !isEntity(chunks[0], Column)) return undefined;
  const column = columns.find((c) => c.column === chunks[0]);
  if (!column || !isKeyType(column.column)) return undefined;
  const operator = chunkText(chunks[1]);
  let params: unknown[];
  if (operator === ' = ' && isBoundParam(chunks[2], column)) params = [chunks[2]];
  else if (operator === ' in ' && Array.isArray(chunks[2]) && chunks[2].length > 0 && chunks[2].every((p) => isBoundParam(p, column))) params = chunks[2];
  else return undefined;
  return [column.key, params.map((p) => canonicalKeyValue(column.column, (p as Param).value))];
}

/** A value bound to this column that names a storable key (one Postgres would round is no key: the filter scans). */
function isBoundParam(chunk: unknown, column: ColumnMeta): boolean {
  return (
    isEntity(chunk, Param) && (chunk.encoder as unknown) === column.column && chunk.value !== null && chunk.value !== undefined &&
    keyValueProblem(column.column, chunk.value) === undefined
  );
}

function* crossProduct(columns: readonly ColumnMeta[], valueLists: readonly unknown[][], prefix: Row = {}, depth = 0): Generator<Row> {
  if (depth === columns.length) {
    yield { ...prefix };
    return;
  }
  for (const value of valueLists[depth]!) {
    prefix[columns[depth]!.key] = value;
    yield* crossProduct(columns, valueLists, prefix, depth + 1);
  }
}
