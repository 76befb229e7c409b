-- The table's prewrite as one PL/pgSQL function, so that a shard's prewrite
-- is one round trip and one statement (one local transaction). Rendered by
-- TableStorage.prewriteFunctionSql() in src/shard/table-storage.ts: insert
-- the lock rows, then (new statement, new snapshot) look for conflicting
-- versions, locks and existing rows, and remove our locks if any is found.
{{prewrite_function}};
