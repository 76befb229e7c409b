-- The latest row's op as a one-byte "char" ('p' put, 'd' del) instead of
-- text: every scan tests it on every row, and a "char" comparison costs a
-- fraction of a text one; a fixed-width op also lets Postgres find the
-- value columns after it at fixed offsets. Statements keep writing and
-- comparing 'put' and 'del': "char" takes a string's first byte. The
-- check constraint of 0007 compares text, so it is replaced. Rewrites the
-- table under an exclusive lock: reads and commits of the table on the
-- shard wait for it (docs/OPERATIONS.md, "Upgrading").
do $$
declare
  check_name name;
begin
  for check_name in select c.conname from pg_constraint c
    join pg_attribute a on a.attrelid = c.conrelid and a.attname = 'op'
    where c.conrelid = {{latest_regclass}}::regclass and c.contype = 'c' and c.conkey = array[a.attnum]
  loop
    execute format('alter table %s drop constraint %I', {{latest_regclass}}::regclass, check_name);
  end loop;
end $$;
alter table {{latest}} alter column op type "char" using op::"char";
alter table {{latest}} add constraint {{latest_op_check}} check (op in ('p', 'd'));
