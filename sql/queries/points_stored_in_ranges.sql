-- The stored times of each series within a range of times: what a writer of history compares a
-- batch with before writing it (a second run of an import stores nothing, so it only checks).
-- Params: $1 series ids (bigint[]), $2 first times (timestamptz[]), $3 last times (timestamptz[]),
--         one range per position
-- Returns per range with stored points its position (1-based), how many, and their times in
-- timestamptz's binary form (microseconds since 2000-01-01, int8 big-endian), in no order.
SELECT r.ord::int AS ord, count(*)::int AS n, string_agg(timestamptz_send(p.ts), ''::bytea) AS times
FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS r(series_id, lo, hi, ord)
JOIN points p ON p.series_id = r.series_id AND p.ts >= r.lo AND p.ts <= r.hi
GROUP BY r.ord
