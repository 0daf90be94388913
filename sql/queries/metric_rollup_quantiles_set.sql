-- Stores the quantiles of the given compacted rows (see metric_rollup_quantiles_missing.sql).
-- Params: $1 metric ids (int[]), $2 widths (int[]), $3 buckets (timestamptz[]),
--         $4–$7 p50, p90, p95, p99 (float8[])
UPDATE metric_rollup r
SET q50 = k.q50, q90 = k.q90, q95 = k.q95, q99 = k.q99
FROM unnest($1::int[], $2::int[], $3::timestamptz[], $4::float8[], $5::float8[], $6::float8[],
            $7::float8[]) AS k(metric_id, width, bucket, q50, q90, q95, q99)
WHERE r.metric_id = k.metric_id AND r.width = k.width AND r.bucket = k.bucket
