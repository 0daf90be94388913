-- Every metric's name and number of series, by name: one row per metric, however many series.
SELECT name AS metric_name, series_count AS series
FROM metrics
ORDER BY name
