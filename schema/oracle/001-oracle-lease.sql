-- The oracle's meta table: one row holding the leader's lease (fencing epoch,
-- holder, expiry by this database's clock) and the persisted timestamp limit.
-- Every timestamp any leader ever served is below timestamp_limit.
CREATE TABLE IF NOT EXISTS percolator_oracle_lease (
  id               smallint    PRIMARY KEY CHECK (id = 1),
  -- Bumped by every acquisition; every write by a leader is `WHERE epoch = $mine`.
  epoch            bigint      NOT NULL,
  -- Random id of the process holding the lease, and where clients reach it.
  leader_id        text,
  leader_address   text,
  lease_expires_at timestamptz NOT NULL,
  -- Exclusive upper bound of every timestamp served; never decreases.
  timestamp_limit  bigint      NOT NULL CHECK (timestamp_limit >= 0),
  updated_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);

INSERT INTO percolator_oracle_lease (id, epoch, leader_id, leader_address, lease_expires_at, timestamp_limit)
VALUES (1, 0, NULL, NULL, '-infinity', 0)
ON CONFLICT (id) DO NOTHING;
