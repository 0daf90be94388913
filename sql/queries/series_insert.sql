-- Inserts the series that do not exist yet. Rows go in fingerprint order so two
-- concurrent flushes lock in the same order and cannot deadlock.
-- Params: $1 fingerprints (uuid[]), $2 metric names (text[]), $3 source agent ids (text[]),
--         $4 instance ids (text[]), $5 tags (jsonb[])
INSERT INTO series (fingerprint, metric_name, source_agent_id, instance_id, tags)
SELECT fingerprint, metric_name, source_agent_id, instance_id, tags
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
       AS input(fingerprint, metric_name, source_agent_id, instance_id, tags)
ORDER BY fingerprint
ON CONFLICT (fingerprint) DO NOTHING
