-- The detail columns of scan.sql's rows (its details slot): what the report and the
-- survivor rule need besides the keys.
sequence_id, status, UNIX_TIMESTAMP(created_at) AS created_ts
