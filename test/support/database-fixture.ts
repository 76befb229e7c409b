import { afterAll, beforeAll } from 'vitest';
import { percolator, type Database, type PercolatorOptions } from '../../src/index.js';
import { startTestCluster, type TestCluster } from './test-cluster.js';

export interface DatabaseFixture<TSchema extends Record<string, unknown>> {
  readonly cluster: TestCluster;
  /** The client, its schema migrated (and seeded). */
  readonly db: Database<TSchema>;
}

export interface DatabaseFixtureOptions<TSchema extends Record<string, unknown>> extends Omit<PercolatorOptions<TSchema>, 'oracle' | 'shards' | 'schema'> {
  /** Throwaway shards to start (default 3). */
  readonly shards?: number;
  /** Extra `-c name=value` settings of the shards. */
  readonly shardSettings?: Record<string, string | number>;
  /** Rows written after migrating. */
  readonly seed?: (db: Database<TSchema>) => Promise<void>;
}

/**
 * The client-level twin of useEngines (engine-fixture.ts): throwaway shards
 * and a real oracle for one test file, a `percolator()` client on them with
 * `schema` migrated and seeded; closed and removed after the file's tests.
 * Call at the top of a describe block (or of the file).
 */
export function useDatabase<TSchema extends Record<string, unknown>>(schema: TSchema, options: DatabaseFixtureOptions<TSchema> = {}): DatabaseFixture<TSchema> {
  const { shards = 3, seed, shardSettings, ...clientOptions } = options;
  let cluster: TestCluster | undefined;
  let db: Database<TSchema> | undefined;
  beforeAll(async () => {
    cluster = await startTestCluster({ shards, shardSettings });
    db = await percolator({ ...clientOptions, oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema });
    await db.migrate();
    await seed?.(db);
  });
  afterAll(async () => {
    await db?.close();
    await cluster?.destroy();
  });
  return {
    get cluster() {
      return cluster!;
    },
    get db() {
      return db!;
    },
  };
}
