-- Lock rows live for milliseconds: every write inserts one and deletes it at
-- commit. Vacuum the locks table after a few hundred dead rows instead of a
-- fraction of its (tiny) size, so index scans of it stay short under load.
alter table {{locks}} set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 200, autovacuum_vacuum_cost_delay = 0);
