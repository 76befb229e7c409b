import { Column, is, Param, SQL } from 'drizzle-orm';
import type { ColumnMeta, TableMeta } from '../schema/table-meta.js';
import type { Row } from '../txn/engine-contract.js';
import { chunkText, junctionOperands, meaningfulChunks } from './sql-chunks.js';

/**
 * Column types whose JS equality is SQL equality, so a value in a filter hashes
 * like the stored value. (uuid compares case-insensitively, numeric and floats
 * have several spellings of one value, char pads: never pinned.)
 */
const PINNABLE_TYPES = new Set([
  'PgInteger', 'PgSmallInt', 'PgBigInt53', 'PgBigInt64', 'PgSerial', 'PgSmallSerial', 'PgBigSerial53', 'PgBigSerial64',
  'PgText', 'PgVarchar', 'PgBoolean', 'PgEnumColumn',
]);

/** Most key tuples a filter may enumerate before pinning gives up (then: all shards). */
const MAX_PINNED_TUPLES = 1024;

/** Column key → the values a matching row's column may have; a conjunction. */
type Constraint = ReadonlyMap<string, readonly unknown[]>;

/**
 * @internal The shards that can hold rows matching `where`, or undefined when
 * any shard may (the filter does not pin the shard key). A filter pins the
 * shard key when every shard-key column is fixed by `eq(col, value)` or
 * `inArray(col, values)`, possibly inside and()/or(). Best effort: any other
 * shape means "all shards", which is always correct.
 */
export function pinnedShards(meta: TableMeta, where: SQL | undefined, shardOf: (row: Row) => number): number[] | undefined {
  if (!where || !meta.shardKey.every((c) => PINNABLE_TYPES.has(c.column.columnType))) return undefined;
  const alternatives = constraintsOf(meta, where);
  if (!alternatives) return undefined;
  const shards = new Set<number>();
  let tuples = 0;
  for (const constraint of alternatives) {
    const valueLists = meta.shardKey.map((c) => constraint.get(c.key));
    if (valueLists.some((v) => v === undefined)) return undefined;
    for (const row of crossProduct(meta.shardKey, valueLists as unknown[][])) {
      if (++tuples > MAX_PINNED_TUPLES) return undefined;
      shards.add(shardOf(row));
    }
  }
  return [...shards].sort((a, b) => a - b);
}

/** A disjunction of conjunctive constraints implied by `node`; undefined if too many. */
function constraintsOf(meta: TableMeta, node: SQL): Constraint[] | undefined {
  const conjuncts = junctionOperands(node, ' and ');
  if (conjuncts) {
    let result: Constraint[] = [new Map()];
    for (const operand of conjuncts) {
      const alternatives = constraintsOf(meta, operand);
      if (!alternatives) return undefined;
      result = result.flatMap((left) => alternatives.map((right) => new Map([...left, ...right])));
      if (result.length > MAX_PINNED_TUPLES) return undefined;
    }
    return result;
  }
  const disjuncts = junctionOperands(node, ' or ');
  if (disjuncts) {
    const result: Constraint[] = [];
    for (const operand of disjuncts) {
      const alternatives = constraintsOf(meta, operand);
      if (!alternatives) return undefined;
      result.push(...alternatives);
    }
    return result.length > MAX_PINNED_TUPLES ? undefined : result;
  }
  const leaf = shardKeyLeaf(meta, node);
  return [leaf ? new Map([leaf]) : new Map()];
}

/** `eq(shardKeyColumn, v)` or `inArray(shardKeyColumn, [...])` → [column key, values]. */
function shardKeyLeaf(meta: TableMeta, node: SQL): [string, unknown[]] | undefined {
  const chunks = meaningfulChunks(node);
  if (chunks.length !== 3 || !is(chunks[0], Column)) return undefined;
  const column = meta.shardKey.find((c) => c.column === chunks[0]);
  if (!column) return undefined;
  const operator = chunkText(chunks[1]);
  if (operator === ' = ' && isBoundParam(chunks[2], column)) return [column.key, [(chunks[2] as Param).value]];
  if (operator === ' in ' && Array.isArray(chunks[2]) && chunks[2].every((p) => isBoundParam(p, column))) {
    return [column.key, chunks[2].map((p: Param) => p.value)];
  }
  return undefined;
}

function isBoundParam(chunk: unknown, column: ColumnMeta): boolean {
  return is(chunk, Param) && (chunk.encoder as unknown) === column.column && chunk.value !== null && chunk.value !== undefined;
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
