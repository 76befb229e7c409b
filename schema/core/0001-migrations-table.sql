-- Bookkeeping of applied migrations on this shard. Every migration runs
-- under a transaction-level advisory lock, so concurrent `migrate()` calls
-- from several clients apply each migration exactly once.
create table if not exists percolator_migrations (
  name text primary key,
  checksum text not null,
  applied_at timestamptz not null default now()
);
