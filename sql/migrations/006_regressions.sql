-- Regression detection: one run writes a report row per listed metric or series; a regression
-- that stays open across runs is one row in `regressions` (same id, first_seen, last_seen).

CREATE TABLE regressions (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  metric_name text        NOT NULL,
  series_id   bigint,
  severity    text        NOT NULL CHECK (severity IN ('WARNING', 'CRITICAL')),
  direction   text        NOT NULL CHECK (direction IN ('up', 'down')),
  first_seen  timestamptz NOT NULL,
  last_seen   timestamptz NOT NULL,
  closed_at   timestamptz
);
-- At most one open regression per metric (series_id null) or per series.
CREATE UNIQUE INDEX regressions_open_idx ON regressions (metric_name, coalesce(series_id, 0)) WHERE closed_at IS NULL;

CREATE TABLE regression_runs (
  run_id          uuid PRIMARY KEY,
  computed_at     timestamptz NOT NULL,
  baseline_from   timestamptz NOT NULL,
  baseline_to     timestamptz NOT NULL,
  recent_from     timestamptz NOT NULL,
  recent_to       timestamptz NOT NULL,
  analysed        integer     NOT NULL,
  listed          integer     NOT NULL
);
CREATE INDEX regression_runs_computed_at_idx ON regression_runs (computed_at);

CREATE TABLE regression_reports (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id              uuid        NOT NULL REFERENCES regression_runs (run_id) ON DELETE CASCADE,
  computed_at         timestamptz NOT NULL,
  metric_name         text        NOT NULL,
  series_id           bigint,
  series              jsonb,
  baseline_avg        double precision NOT NULL,
  recent_avg          double precision NOT NULL,
  avg_change_percent  double precision,
  p95_change_percent  double precision,
  shift_percent       double precision,
  change_absolute     double precision NOT NULL,
  shift_absolute      double precision NOT NULL,
  change_point        timestamptz,
  p_value             double precision NOT NULL,
  direction           text        NOT NULL,
  regression_severity text        NOT NULL CHECK (regression_severity IN ('NORMAL', 'WARNING', 'CRITICAL')),
  baseline_zero       boolean     NOT NULL,
  regression_id       bigint REFERENCES regressions (id)
);
CREATE INDEX regression_reports_run_idx ON regression_reports (run_id);
CREATE INDEX regression_reports_computed_at_idx ON regression_reports (computed_at);
