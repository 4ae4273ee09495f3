-- The detail columns of chunk.sql's rows (its details slot): what the report and the
-- survivor rule need besides the keys. The created_us slot is created_at in microseconds
-- (created_us_timestamp.sql or created_us_datetime.sql, chosen by the column's type).
sequence_id, status, {created_us} AS created_us
