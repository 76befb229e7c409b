import { SQL, StringChunk } from 'drizzle-orm';
import { isEntity } from './drizzle-entity.js';

/**
 * @internal The meaningful chunks of a drizzle SQL node: empty string chunks
 * dropped and single-element wrappers (`and(x)`, `sql`${x}``) unwrapped, so
 * that `eq(col, v)` reads as [Column, ' = ', Param] and
 * `and(a, b)` as ['(', SQL[a, ' and ', b], ')'].
 */
export function meaningfulChunks(node: SQL): unknown[] {
  let chunks = node.queryChunks.filter((c) => chunkText(c) !== '');
  while (chunks.length === 1 && isEntity(chunks[0], SQL)) {
    chunks = (chunks[0] as SQL).queryChunks.filter((c) => chunkText(c) !== '');
  }
  return chunks;
}

/** @internal The text of a string chunk, or undefined for anything else. */
export function chunkText(chunk: unknown): string | undefined {
  if (!isEntity(chunk, StringChunk)) return undefined;
  // drizzle's operators make one-part chunks: no joined copy of them per filter.
  return chunk.value.length === 1 ? chunk.value[0]! : chunk.value.join('');
}

/**
 * @internal If `node` is `(c1 <sep> c2 <sep> ...)` as drizzle's and()/or()
 * build it, the operands; otherwise undefined.
 */
export function junctionOperands(node: SQL, separator: ' and ' | ' or '): SQL[] | undefined {
  return junctionOf(meaningfulChunks(node), separator);
}

/** @internal junctionOperands of a node's meaningful chunks, for callers that look at them in other ways too. */
export function junctionOf(chunks: readonly unknown[], separator: ' and ' | ' or '): SQL[] | undefined {
  if (chunks.length !== 3 || chunkText(chunks[0]) !== '(' || chunkText(chunks[2]) !== ')' || !isEntity(chunks[1], SQL)) return undefined;
  const inner = (chunks[1] as SQL).queryChunks;
  const operands: SQL[] = [];
  for (const [i, chunk] of inner.entries()) {
    if (i % 2 === 1) {
      if (chunkText(chunk) !== separator) return undefined;
    } else if (isEntity(chunk, SQL)) {
      operands.push(chunk);
    } else {
      return undefined;
    }
  }
  return operands.length >= 2 ? operands : undefined;
}
