-- Each report row keeps the model its expected level came from (weekly, daily or none) and its
-- score: how far the level moved in units of the baseline's noise. Reports are ranked by
-- severity, then score, so the most surprising large shift is on top. NULL for older rows.
ALTER TABLE regression_reports
  ADD COLUMN seasonality text CHECK (seasonality IN ('weekly', 'daily', 'none')),
  ADD COLUMN score double precision;
