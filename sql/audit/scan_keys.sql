-- The scan of scan.sql for a table that already has the unique index on
-- (sequence_stepid, recipient_phone, device_id): exact copies cannot exist, so only the
-- key columns are read, which the server can take from that index alone (a covering
-- index scan) instead of the whole rows. What remains to find are near-duplicates.
SELECT id, sequence_stepid, device_id, recipient_phone, NULL AS sequence_id, NULL AS status,
       NULL AS created_ts, total_rows, phone_rank
FROM (
    SELECT id, sequence_stepid, device_id, recipient_phone, digits, total_rows,
           DENSE_RANK() OVER (PARTITION BY sequence_stepid, device_id, digits ORDER BY recipient_phone) AS phone_rank
    FROM (
        SELECT id, sequence_stepid, device_id, recipient_phone, digits,
               COUNT(*) OVER (PARTITION BY sequence_stepid, device_id, digits) AS near_rows,
               COUNT(*) OVER () AS total_rows
        FROM (
            SELECT id, sequence_stepid, device_id, recipient_phone,
                   CAST(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(
                       recipient_phone, ' ', ''), '-', ''), '+', ''), '(', ''), ')', ''), '.', ''), '/', '')
                       AS CHAR(50)) AS digits
            FROM {table}
            WHERE sequence_stepid IS NOT NULL
        ) AS keyed
    ) AS counted
    WHERE near_rows > 1
) AS ranked
ORDER BY sequence_stepid, device_id, digits, phone_rank
