-- Serialises regression runs (the open-regression bookkeeping must not interleave).
SELECT pg_advisory_xact_lock(hashtext('pulse:regression')) IS NULL AS locked
