-- Removes the regression slots of the given hours (before regression_slots_build writes them
-- again: a series whose minutes are gone must not keep its slots).
-- Params: $1 hours (timestamptz[], each the start of a UTC hour)
DELETE FROM regression_slots WHERE hour = ANY($1::timestamptz[])
