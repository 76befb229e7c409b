-- A cluster whose every shard has been migrated once is complete: from then
-- on, a database in the list that records no identity cannot be one of its
-- shards (a mistyped URL, a database restored empty), and adopting it would
-- hide the real shard's rows and locks (a resolver would find neither the
-- primary's lock nor its version there and roll back committed secondaries).
-- src/schema/shard-identity.ts refuses such a list; migrate() sets the flag
-- on every shard once all of them are recorded.
alter table percolator_shard_identity add column if not exists complete boolean not null default false;
