-- created_at of a TIMESTAMP column in whole microseconds since the Unix epoch (src/scan/mod.rs,
-- `created_us`). UNIX_TIMESTAMP of a TIMESTAMP column is its stored UTC value, whatever the
-- session time zone; it is an integer at precision 0 and a DECIMAL with that many
-- fractional digits otherwise, so the product is exact and the CAST only changes the type.
CAST(UNIX_TIMESTAMP({created_at}) * 1000000 AS SIGNED)
