-- Deletes runs (and with them their report rows) older than the cutoff, and regressions
-- closed before it.
-- Params: $1 cutoff (timestamptz)
WITH runs AS (DELETE FROM regression_runs WHERE computed_at < $1::timestamptz RETURNING 1)
DELETE FROM regressions WHERE closed_at < $1::timestamptz
  AND NOT EXISTS (SELECT 1 FROM regression_reports r WHERE r.regression_id = regressions.id)
