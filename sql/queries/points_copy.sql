-- The fast path of a flush: COPY straight into points. Fails as a whole (23505) if any
-- row is already stored, and the flush then takes the staging path below.
COPY points (series_id, ts, value) FROM STDIN (FORMAT binary)
