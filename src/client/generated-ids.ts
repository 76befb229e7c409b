import { InvalidInputError } from '../errors.js';
import type { TableMeta } from '../schema/table-meta.js';
import type { Row } from '../txn/engine-contract.js';
import type { GeneratedIdSpec } from './generated-id-spec.js';
import type { IdBlocks } from './id-blocks.js';

/**
 * @internal Rows to insert with every serial/identity value left out filled
 * in from the client's id blocks (copies; the caller's objects are not
 * touched), in row order, so that one `values([...])` gets increasing ids.
 * A value given for a `generated always` identity column is refused, as
 * Postgres does. Anything that is not a row object is left for the row
 * validation to refuse.
 */
export async function fillGeneratedIds(
  ids: IdBlocks,
  meta: TableMeta,
  generated: readonly (readonly [string, GeneratedIdSpec])[],
  inputs: readonly unknown[],
  where: (i: number) => string,
): Promise<unknown[]> {
  if (generated.length === 0) return [...inputs];
  const rows = inputs.map((input) => (typeof input === 'object' && input !== null && !Array.isArray(input) ? { ...(input as Row) } : input));
  for (const [key, spec] of generated) {
    const missing: Row[] = [];
    rows.forEach((row, i) => {
      if (typeof row !== 'object' || row === null || Array.isArray(row)) return;
      const value = (row as Row)[key];
      if (value === undefined) missing.push(row as Row);
      else if (spec.always) throw new InvalidInputError(`${where(i)}: ${meta.name}.${key} is generated always as identity; leave it out (Postgres refuses a value too)`);
    });
    if (missing.length === 0) continue;
    const values = await ids.take(spec, missing.length);
    missing.forEach((row, i) => (row[key] = spec.bigint ? values[i] : Number(values[i])));
  }
  return rows;
}
