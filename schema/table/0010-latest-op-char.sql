-- The latest row's op as a one-byte "char" ('p' put, 'd' del) instead of
-- text: every scan tests it on every row, and a "char" comparison costs a
-- fraction of a text one; a fixed-width op also lets Postgres find the
-- value columns after it at fixed offsets. Statements keep writing and
-- comparing 'put' and 'del': "char" takes a string's first byte. The
-- check constraint of 0007 compares text, so it is replaced.
do $$
declare
  check_name name;
begin
  for check_name in select conname from pg_constraint
    where conrelid = {{latest_regclass}}::regclass and contype = 'c' and pg_get_constraintdef(oid) like '%op%'
  loop
    execute format('alter table %s drop constraint %I', {{latest_regclass}}::regclass, check_name);
  end loop;
end $$;
alter table {{latest}} alter column op type "char" using op::"char";
alter table {{latest}} add constraint {{latest_op_check}} check (op in ('p', 'd'));
