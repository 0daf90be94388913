-- Regression slots a writer of history computed from its own minutes (hour-rollups.ts, packed
-- as minute_slots() packs them), by binary COPY, after regression_slots_delete.sql.
COPY regression_slots (series_id, hour, slots) FROM STDIN (FORMAT binary)
