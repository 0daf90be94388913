-- One page of series in (metric_name, id) order, after the position the cursor names (keyset
-- pagination: no OFFSET, so every page costs the same). An absent filter is NULL and matches
-- every series; pg-promise sends the values as literals, so the planner drops those terms.
-- Params: $1 metric name, $2 source_agent_id, $3 instance_id (text or NULL);
--         $4 tags to contain (jsonb object or NULL);
--         $5, $6 the cursor's metric_name and id (NULL, NULL for the first page);
--         $7 rows to return (the page size plus one, to know whether another page follows)
SELECT id, metric_name, source_agent_id, instance_id, tags
FROM series
WHERE ($1::text IS NULL OR metric_name = $1::text)
  AND ($2::text IS NULL OR source_agent_id = $2::text)
  AND ($3::text IS NULL OR instance_id = $3::text)
  AND ($4::jsonb IS NULL OR tags @> $4::jsonb)
  AND ($5::text IS NULL OR (metric_name, id) > ($5::text, $6::bigint))
ORDER BY metric_name, id
LIMIT $7::int
