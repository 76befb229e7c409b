/**
 * Adding a column to a table of R rows under a write load: W concurrent
 * workers update single rows (one transaction each), deployed on the old
 * declaration; migrate() by another client adds a nullable column; a worker
 * whose write is fenced (SchemaVersionError) moves to the new declaration
 * once migrate() returned, as a rolling deploy would. Prints the update rate in the S seconds before
 * the change, during it (from migrate()'s start until every worker writes
 * with the new declaration), in the S seconds after, how long migrate()
 * took, and every error other than the fence. Throwaway shards, fsync off.
 *
 *   npm run build && node dist/test/support/alter-under-load.js [rows=100000] [workers=16] [seconds=5]
 */
import { eq } from 'drizzle-orm';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { percolator, SchemaVersionError } from '../../src/index.js';
import { startTestCluster } from './test-cluster.js';

const rows = Number(process.argv[2] ?? 100_000);
const workers = Number(process.argv[3] ?? 16);
const seconds = Number(process.argv[4] ?? 5);
const v1 = pgTable('altered', { id: integer().primaryKey(), n: integer().notNull() });
const v2 = pgTable('altered', { id: integer().primaryKey(), n: integer().notNull(), note: text() });

const cluster = await startTestCluster({ shards: 3 });
const options = { oracle: [cluster.oracleAddress], shards: cluster.shardUrls, maxRetries: 100 };
const old = await percolator({ ...options, schema: { altered: v1 } });
const upgraded = await percolator({ ...options, schema: { altered: v2 } });
const migrator = await percolator({ ...options, schema: { altered: v2 } });
try {
  await old.migrate();
  for (let from = 0; from < rows; from += 5000) {
    await old.insert(v1).values(Array.from({ length: Math.min(5000, rows - from) }, (_, i) => ({ id: from + i, n: 0 })));
  }
  const done: number[] = []; // completion times (performance.now()) of every update
  const errors: unknown[] = [];
  const movedAt: number[] = [];
  let stop = false;
  let migration: Promise<void> | undefined;
  const load = Array.from({ length: workers }, async (_, w) => {
    let moved = false;
    for (let k = w; !stop; k += workers) {
      const id = (k * 7919) % rows;
      try {
        if (moved) await upgraded.update(v2).set({ n: k, note: 'new' }).where(eq(v2.id, id));
        else await old.update(v1).set({ n: k }).where(eq(v1.id, id));
        done.push(performance.now());
      } catch (error) {
        if (error instanceof SchemaVersionError && !moved && migration) {
          await migration;
          moved = true;
          movedAt.push(performance.now());
        } else errors.push(error);
      }
    }
  });
  const rate = (from: number, to: number) => done.filter((t) => t >= from && t < to).length / ((to - from) / 1000);
  await new Promise((resolve) => setTimeout(resolve, 1000)); // warm-up
  const beforeFrom = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const start = performance.now();
  await (migration = migrator.migrate());
  const migrated = performance.now();
  while (movedAt.length < workers) await new Promise((resolve) => setTimeout(resolve, 10));
  const allMoved = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const afterTo = performance.now();
  stop = true;
  await Promise.all(load);
  const before = rate(beforeFrom, start);
  const during = rate(start, allMoved);
  const after = rate(allMoved, afterTo);
  console.log(
    `${rows} rows, ${workers} workers: before ${before.toFixed(0)} updates/s; during the change (${(allMoved - start).toFixed(0)} ms) ${during.toFixed(0)}/s (${(during / before).toFixed(2)}x); ` +
      `after ${after.toFixed(0)}/s (${(after / before).toFixed(2)}x); migrate() took ${(migrated - start).toFixed(0)} ms; errors other than the fence: ${errors.length}`,
  );
  for (const error of errors.slice(0, 5)) console.log(String(error));
} finally {
  await Promise.all([old.close(), upgraded.close(), migrator.close()]);
  await cluster.destroy();
}
