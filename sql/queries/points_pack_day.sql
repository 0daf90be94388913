-- Packs one UTC day (see migration 013). Params: $1 day (date)
SELECT points, packed_rows, raw_bytes FROM pulse_pack_points_day($1::date)
