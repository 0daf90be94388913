COPY points_staging (series_id, ts, value) FROM STDIN (FORMAT binary)
