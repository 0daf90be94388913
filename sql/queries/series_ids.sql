-- Ids, metric ids and ordinals of the series with these fingerprints.
-- Params: $1 fingerprints (uuid[])
SELECT id, fingerprint::text AS fingerprint, metric_id, ordinal
FROM series
WHERE fingerprint = ANY($1::uuid[])
