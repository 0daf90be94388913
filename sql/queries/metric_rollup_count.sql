-- Whether metric_rollup holds any row (1 or 0). No params.
SELECT count(*)::int AS rows FROM (SELECT 1 FROM metric_rollup LIMIT 1) x
