-- Every series, for dashboards to discover what exists, grouped by metric.
SELECT metric_name, id, source_agent_id, instance_id, tags
FROM series
ORDER BY metric_name, id
