-- Series with data in the recent window, with what identifies them.
-- Params: $1 recent window start (timestamptz)
SELECT s.id, s.metric_id, s.metric_name, s.source_agent_id, s.instance_id, s.tags
FROM series s
WHERE s.id IN (SELECT DISTINCT series_id FROM rollup_1m WHERE bucket >= $1::timestamptz)
ORDER BY s.metric_name, s.id
