-- Placement maps (src/oracle/placement-store.ts): per cluster, the version,
-- the shards (id and URL) and the owner of each of the 4096 slots (2 bytes
-- little-endian per slot). Written only by the leader, fenced by its epoch,
-- and only from one version to the next. The sum of all versions is the
-- placement generation timestamps carry.
CREATE TABLE IF NOT EXISTS percolator_placement_maps (
  cluster_id uuid        PRIMARY KEY,
  version    bigint      NOT NULL CHECK (version >= 1),
  shards     jsonb       NOT NULL,
  slots      bytea       NOT NULL CHECK (length(slots) = 8192),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
