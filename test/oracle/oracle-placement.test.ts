import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OracleRequestRejectedError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { openMetaStore } from '../../src/oracle/meta-store.js';
import { createOracleClient } from '../../src/oracle/oracle-client.js';
import { encodeSlots, initialSlots, PlacementMap } from '../../src/shard/placement-map.js';
import { storedPlacementOf } from '../../src/txn/placement.js';
import { META_BACKENDS, useMetaServer } from './support/meta-server-fixture.js';

const mapOf = (clusterId: string, version: bigint, shardCount: number) =>
  storedPlacementOf(new PlacementMap(clusterId, version, Array.from({ length: shardCount }, (_, id) => ({ id, url: `postgres://shard${id}/db` })), initialSlots(shardCount)));

/** Placement maps kept by the oracle: compare-and-set by version, written only by the leader, the generation on every range. */
describe.each(META_BACKENDS)('oracle placement maps (meta store: %s)', (backend) => {
  const meta = useMetaServer(backend);

  it('stores a map once per version; the generation counts changes and every range carries it, also after a failover', async () => {
    const metaUrl = await meta.database();
    const leader = await meta.oracle({ metaUrl, args: ['--lease', '1s'] });
    const standby = await meta.oracle({ metaUrl, args: ['--lease', '1s'], standby: true });
    await standby.waitForRole('follower');
    const client = createOracleClient({ addresses: [standby.address, leader.address] });
    try {
      const cluster = randomUUID();
      expect((await client.writePlacement(mapOf(cluster, 1n, 3), 0n)).applied).toBe(true);
      // A second creation loses and gets the map that won.
      const again = await client.writePlacement(mapOf(cluster, 1n, 2), 0n);
      expect(again.applied).toBe(false);
      expect(again.placement?.shards).toHaveLength(3);
      // A writer that read version 1 moves it to 2; one that still holds version 1 as current loses.
      expect((await client.writePlacement(mapOf(cluster, 2n, 4), 1n)).applied).toBe(true);
      const stale = await client.writePlacement(mapOf(cluster, 2n, 5), 1n);
      expect(stale.applied).toBe(false);
      expect(stale.placement?.version).toBe(2n);
      await expect(client.writePlacement(mapOf(cluster, 4n, 4), 2n)).rejects.toThrow(OracleRequestRejectedError);
      const read = await client.readPlacement(cluster);
      expect(read.placement?.version).toBe(2n);
      expect(read.generation).toBe(2n);
      expect(Buffer.from(read.placement!.slots).equals(Buffer.from(encodeSlots(initialSlots(4))))).toBe(true);

      const fresh = createOracleClient({ addresses: [leader.address] });
      try {
        await fresh.getTimestamp();
        expect(fresh.placementGeneration).toBe(2n);
      } finally {
        await fresh.close();
      }
      // A second cluster: reads must name one.
      expect((await client.writePlacement(mapOf(randomUUID(), 1n, 1), 0n)).applied).toBe(true);
      await expect(client.readPlacement(undefined)).rejects.toThrow(OracleRequestRejectedError);

      await leader.kill('SIGKILL');
      await standby.waitForRole('leader', 10_000);
      const afterFailover = createOracleClient({ addresses: [standby.address] });
      try {
        await afterFailover.getTimestamp();
        expect(afterFailover.placementGeneration).toBe(3n);
      } finally {
        await afterFailover.close();
      }
    } finally {
      await client.close();
    }
  });

  it('a store write under an epoch that no longer holds the lease changes nothing', async () => {
    const metaUrl = await meta.database();
    const store = await openMetaStore(metaUrl, { logger: silentLogger, queryTimeoutMs: 5000, startTimeoutMs: 10_000 });
    try {
      const grant = await store.tryAcquireLease('test', '127.0.0.1:1', 60_000);
      const cluster = randomUUID();
      expect(await store.writePlacement(grant!.epoch + 1n, mapOf(cluster, 1n, 2), 0n)).toBeUndefined();
      expect((await store.readPlacement(cluster)).placement).toBeUndefined();
      expect((await store.writePlacement(grant!.epoch, mapOf(cluster, 1n, 2), 0n))?.applied).toBe(true);
    } finally {
      await store.close();
    }
  });
});
