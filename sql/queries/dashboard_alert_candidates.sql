-- The latest value, within the last $1 seconds, of every series that can raise an alert:
-- host memory and CPU percentages, and scrape targets' up.
-- Params: $1 window (int seconds)
SELECT DISTINCT ON (r.series_id) s.metric_name, s.tags, r.last AS value, r.last_ts
FROM rollup_1m r
JOIN series s ON s.id = r.series_id
WHERE s.metric_name IN ('memory_usage_percentage', 'cpu_usage_percentage', 'up')
  AND r.bucket >= now() - make_interval(secs => $1::int)
ORDER BY r.series_id, r.last_ts DESC
