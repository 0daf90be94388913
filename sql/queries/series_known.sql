-- Which of the given fingerprints are stored series (a series limit never refuses those).
-- Params: $1 fingerprints (uuid[])
SELECT fingerprint::text AS fingerprint
FROM series
WHERE fingerprint = ANY($1::uuid[])
