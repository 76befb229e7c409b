import { InvalidInputError } from '../errors.js';

/**
 * PostgreSQL's extended protocol counts a statement's bind parameters in
 * 16 bits: a statement with more cannot be sent (node-postgres would send
 * a malformed Bind message, which the server answers by dropping the
 * connection).
 */
export const MAX_BIND_PARAMETERS = 65_535;

/** Throws InvalidInputError, before anything is sent, for a statement with more bind parameters than the protocol carries. */
export function checkBindParameters(values: readonly unknown[], shardName: string): void {
  if (values.length <= MAX_BIND_PARAMETERS) return;
  throw new InvalidInputError(
    `a statement for shard ${shardName} needs ${values.length.toLocaleString('en-US')} bind parameters, more than the 65,535 PostgreSQL's protocol allows: ` +
      'a filter with that many values (a long inArray on a column other than the primary key) cannot run as one statement; split the values into several queries',
  );
}
