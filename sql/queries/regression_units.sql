-- The given series, with what identifies them.
-- Params: $1 series ids (bigint[])
SELECT s.id, s.metric_id, s.metric_name, s.source_agent_id, s.instance_id, s.tags
FROM series s
WHERE s.id = ANY($1::bigint[])
ORDER BY s.metric_name, s.id
