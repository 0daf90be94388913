-- Closes the open regressions this run no longer found.
-- Params: $1 still open ids (bigint[]), $2 closed at (timestamptz)
UPDATE regressions SET closed_at = $2::timestamptz
WHERE closed_at IS NULL AND NOT (id = ANY($1::bigint[]))
