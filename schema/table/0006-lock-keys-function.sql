-- The table's pessimistic lock acquisition as one PL/pgSQL function, so a
-- locking read costs one round trip per shard. Rendered by
-- PessimisticLockStatements.lockKeysFunctionSql() in
-- src/shard/pessimistic-lock-statements.ts: insert our lock rows where the
-- slot is free, then (new statement, new snapshot) report per key whether
-- we hold it, who holds it otherwise, and the newest committed version.
{{lock_keys_function}};
