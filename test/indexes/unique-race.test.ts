import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percolator, UniqueViolationError } from '../../src/index.js';
import type { Database } from '../../src/client/database.js';
import type { TimestampSource } from '../../src/oracle/timestamp-source.js';
import { createTransactionEngine } from '../../src/txn/transaction-engine.js';
import { checkIndexes } from '../support/index-checker.js';
import { startTestCluster, type TestCluster } from '../support/test-cluster.js';
import { indexedUsers, indexedUsersMeta } from '../support/users-schema.js';

const CLIENTS = 8;
const EMAILS = 24;
const RUN_MS = 4_000;

const schema = { indexedUsers };
let cluster: TestCluster;
let dbs: Database<typeof schema>[] = [];

beforeAll(async () => {
  cluster = await startTestCluster({ shards: 3 });
  // Separate databases (engines, pools, caches): clients that share nothing but the shards and the oracle.
  dbs = await Promise.all(Array.from({ length: CLIENTS }, () => percolator({ oracle: [cluster.oracleAddress], shards: cluster.shardUrls, schema, maxRetries: 100 })));
  await dbs[0]!.migrate();
});

afterAll(async () => {
  await Promise.all(dbs.map((db) => db.close()));
  await cluster?.destroy();
});

describe('a unique constraint under concurrent inserts from several clients', () => {
  it('every email is taken at most once, and every UniqueViolationError names an email that exists', async () => {
    const deadline = Date.now() + RUN_MS;
    const violations: string[] = [];
    let inserted = 0;
    await Promise.all(
      dbs.map(async (db, client) => {
        for (let n = 0; Date.now() < deadline; n++) {
          const email = `user${Math.floor(Math.random() * EMAILS)}@x`;
          try {
            await db.transaction(async (tx) => {
              await tx.insert(indexedUsers).values({ id: client * 1_000_000 + n, email, status: 'new' });
            });
            inserted++;
          } catch (error) {
            if (!(error instanceof UniqueViolationError)) throw error;
            expect(error.constraint).toBe('indexed_users_email_unique');
            violations.push(String((error.key as unknown[])[0]));
          }
        }
      }),
    );
    const rows = await dbs[0]!.select().from(indexedUsers);
    const emails = rows.map((r) => r.email);
    expect(new Set(emails).size).toBe(emails.length);
    expect(rows).toHaveLength(inserted);
    expect(inserted).toBeLessThanOrEqual(EMAILS);
    expect(violations.length).toBeGreaterThan(0);
    for (const email of violations) expect(emails).toContain(email);
    const tso: TimestampSource = await cluster.createTimestampSource();
    const engine = createTransactionEngine({ shards: cluster.shardUrls, timestampSource: tso, gc: false });
    try {
      engine.register([indexedUsersMeta]);
      expect((await checkIndexes(engine, indexedUsersMeta)).problems).toEqual([]);
    } finally {
      await engine.close();
      await tso.close();
    }
  });
});
