-- The lease row may only move forward: a lower epoch would let a deposed
-- leader's fenced writes through again, a lower timestamp_limit would let the
-- next leader hand out timestamps already served. The oracle itself only
-- raises both (epoch + 1, GREATEST(...)); this refuses anyone else lowering
-- them, or removing the row, by hand. Raising stays allowed.
CREATE OR REPLACE FUNCTION percolator_oracle_lease_never_lowered() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF NEW.epoch < OLD.epoch THEN
      RAISE EXCEPTION 'percolator_oracle_lease.epoch may not decrease (from % to %)', OLD.epoch, NEW.epoch
        USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.timestamp_limit < OLD.timestamp_limit THEN
      RAISE EXCEPTION 'percolator_oracle_lease.timestamp_limit may not decrease (from % to %)', OLD.timestamp_limit, NEW.timestamp_limit
        USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'the percolator_oracle_lease row may not be deleted (%): it holds the highest epoch and timestamp limit ever used', TG_OP
    USING ERRCODE = 'check_violation';
END
$$;

CREATE TRIGGER percolator_oracle_lease_never_lowered
  BEFORE UPDATE OR DELETE ON percolator_oracle_lease
  FOR EACH ROW EXECUTE FUNCTION percolator_oracle_lease_never_lowered();

CREATE TRIGGER percolator_oracle_lease_never_truncated
  BEFORE TRUNCATE ON percolator_oracle_lease
  FOR EACH STATEMENT EXECUTE FUNCTION percolator_oracle_lease_never_lowered();
