-- Indexes for GET /api/v1/series, which pages through series in (metric_name, id) order with
-- keyset pagination and filters them by agent, instance and tags.
--
-- (metric_name, id) gives every page, filtered by metric name or not, as one index range
-- scan: WHERE (metric_name, id) > (last page's last row) ORDER BY metric_name, id LIMIT n.
-- It replaces series_metric_name_idx, whose lookups by metric_name it serves as well.
CREATE INDEX series_metric_name_id_idx ON series (metric_name, id);
DROP INDEX series_metric_name_idx;

-- The same order under an agent or an instance filter, so a page of a rare agent's series
-- does not walk every other series to fill itself.
CREATE INDEX series_source_agent_id_idx ON series (source_agent_id, metric_name, id)
  WHERE source_agent_id IS NOT NULL;
CREATE INDEX series_instance_id_idx ON series (instance_id, metric_name, id)
  WHERE instance_id IS NOT NULL;

-- tags @> '{"host":"a"}' filters; jsonb_path_ops answers containment only, in a smaller index.
CREATE INDEX series_tags_idx ON series USING gin (tags jsonb_path_ops);
