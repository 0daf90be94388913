SELECT * FROM regression_runs ORDER BY computed_at DESC LIMIT 1
