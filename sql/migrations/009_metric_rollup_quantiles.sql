-- Each compacted metric-level row keeps the quantiles every reader asks of it (p50, p90, p95,
-- p99 of its sketch, clamped to its min and max), computed once when the row is written. A
-- trend bucket that is one compacted row is then answered from four numbers, without sending
-- or decoding its sketch. NULL for rows written before this migration until its data step (or
-- the next compaction of the row) fills them; readers fall back to the sketch meanwhile.
ALTER TABLE metric_rollup
  ADD COLUMN q50 double precision,
  ADD COLUMN q90 double precision,
  ADD COLUMN q95 double precision,
  ADD COLUMN q99 double precision;
