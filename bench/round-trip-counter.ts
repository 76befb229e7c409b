import pg from 'pg';

/**
 * Counts the Postgres statements this process sends, whichever system sends
 * them: node-postgres sends one query at a time per connection and waits for
 * its answer, so each `Client#query` is one round trip to a server (a
 * multi-statement simple query, as the SQL baselines use, counts as one).
 * Systems run one after another, so the difference between two readings
 * belongs to the system being measured. (Round trips in parallel to several
 * shards each count: this is work, not the critical path.)
 */
let count = 0;
let installed = false;

export function installRoundTripCounter(): void {
  if (installed) return;
  installed = true;
  const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = prototype.query;
  prototype.query = function countedQuery(this: unknown, ...args: unknown[]): unknown {
    count++;
    return query.apply(this, args);
  };
}

export function roundTrips(): number {
  return count;
}
