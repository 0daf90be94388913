-- Params: $1 run id (uuid), $2 computed at, $3 baseline from, $4 baseline to, $5 recent from,
--         $6 recent to (timestamptz), $7 analysed, $8 listed (int)
INSERT INTO regression_runs (run_id, computed_at, baseline_from, baseline_to, recent_from, recent_to, analysed, listed)
VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8)
