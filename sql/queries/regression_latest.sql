-- The latest run and its report rows, with the regression each belongs to.
SELECT r.*, g.first_seen, g.last_seen
FROM regression_reports r
LEFT JOIN regressions g ON g.id = r.regression_id
WHERE r.run_id = (SELECT run_id FROM regression_runs ORDER BY computed_at DESC LIMIT 1)
ORDER BY CASE r.regression_severity WHEN 'CRITICAL' THEN 0 WHEN 'WARNING' THEN 1 ELSE 2 END,
         r.score DESC NULLS LAST, abs(coalesce(r.shift_percent, 0)) DESC, r.metric_name, r.series_id NULLS FIRST
