/** A cluster's placement map as the oracle stores and serves it (src/shard/placement-map.ts is the client's form). */
export interface StoredPlacement {
  readonly clusterId: string;
  readonly version: bigint;
  readonly shards: readonly { readonly id: number; readonly url: string }[];
  /** 2 bytes little-endian per slot: the owner's shard id. */
  readonly slots: Uint8Array;
}

export interface PlacementRead {
  readonly placement: StoredPlacement | undefined;
  /** The sum of every stored map's version: any change anywhere raises it. */
  readonly generation: bigint;
}

export interface PlacementWrite extends PlacementRead {
  /** The map was written (else `placement` is the one stored, which the caller lost to). */
  readonly applied: boolean;
}

/**
 * Where the oracle keeps placement maps, next to its lease and timestamp
 * limit. Both meta stores implement it (postgres-meta-store.ts,
 * etcd-meta-store.ts) with the same guarantees.
 */
export interface PlacementStore {
  /**
   * The map of `clusterId`, or of the only cluster when it is undefined
   * (OracleRequestRejectedError naming them when there are several).
   */
  readPlacement(clusterId: string | undefined): Promise<PlacementRead>;
  /**
   * Stores `placement` if the stored version is `expectedVersion` (0: none
   * stored) and `epoch` still holds the lease; undefined when it does not
   * (a deposed leader writes nothing).
   */
  writePlacement(epoch: bigint, placement: StoredPlacement, expectedVersion: bigint): Promise<PlacementWrite | undefined>;
  placementGeneration(): Promise<bigint>;
}
