-- rollup_1m becomes append-only: each flush adds one row per (series, minute) for the points it
-- inserted, instead of merging into an existing row. Merging sketches row by row inside the
-- flush cost more than the COPY itself; every reader already merges rows (counts added, sketches
-- added key by key), so several rows for one minute give the same answers.
ALTER TABLE rollup_1m DROP CONSTRAINT rollup_1m_pkey;
CREATE INDEX rollup_1m_series_bucket_idx ON rollup_1m (series_id, bucket);
