-- Report rows since a time, newest first, at most $2.
-- Params: $1 since (timestamptz), $2 limit (int)
SELECT r.*, g.first_seen, g.last_seen
FROM regression_reports r
LEFT JOIN regressions g ON g.id = r.regression_id
WHERE r.computed_at >= $1::timestamptz
ORDER BY r.computed_at DESC, r.id
LIMIT $2
