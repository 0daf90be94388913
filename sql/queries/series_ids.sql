-- Ids of the series with these fingerprints.
-- Params: $1 fingerprints (uuid[])
SELECT id, fingerprint::text AS fingerprint
FROM series
WHERE fingerprint = ANY($1::uuid[])
