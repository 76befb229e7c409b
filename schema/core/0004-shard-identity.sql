-- Shard identity (src/schema/shard-identity.ts). Rows are placed by a hash
-- of their shard key modulo the number of shards, and the position of a
-- shard in the client's list is its number: clients that disagree about the
-- list (another order, another count, one database listed twice) or about a
-- table's shard key would look for a transaction's primary on the wrong
-- shard, find nothing and roll back parts of committed transactions.
-- migrate() records here what this shard is: the cluster it belongs to (an
-- id drawn at the first migrate() and shared by every shard of the list),
-- its position, the number of shards and the placement function; and per
-- table the shard key its rows are placed by. percolator() refuses to run
-- with a list or shard keys that disagree, and so does migrate().
create table if not exists percolator_shard_identity (
  singleton boolean primary key default true check (singleton),
  cluster_id uuid not null,
  position integer not null,
  shard_count integer not null,
  placement text not null,
  recorded_at timestamptz not null default now()
);
create table if not exists percolator_placement (
  table_name text primary key,
  shard_key text not null
);
