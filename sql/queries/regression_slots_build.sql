-- Writes the regression slots of the given hours from their rollup_1m minutes
-- (migration 011's minute_slots), after regression_slots_delete.
-- Params: $1 hours (timestamptz[], each the start of a UTC hour)
INSERT INTO regression_slots (series_id, hour, slots)
SELECT s.series_id, s.hour, s.slots
FROM unnest($1::timestamptz[]) AS h(hour),
     LATERAL minute_slots(h.hour, h.hour + interval '1 hour', NULL) AS s
ORDER BY 1, 2
