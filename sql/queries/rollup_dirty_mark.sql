-- Marks hours whose rollup_1h must be rebuilt.
-- Params: $1 hours (timestamptz[])
INSERT INTO rollup_dirty_hours (bucket)
SELECT DISTINCT h FROM unnest($1::timestamptz[]) AS h
ORDER BY 1
ON CONFLICT (bucket) DO NOTHING
