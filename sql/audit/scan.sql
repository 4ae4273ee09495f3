-- One read-only pass over the sequence messages of {table}, no self-join.
--
-- The single window partitions rows by (step, device, phone digits): every group of exact
-- copies (same step, phone and device) lies inside one such partition, and so do the
-- near-duplicates whose phones differ only in punctuation or spacing. Only partitions
-- with more than one row leave the server, sorted so that each partition arrives in one
-- piece. The outer DENSE_RANK numbers the distinct phones of a partition under the column's
-- collation (it runs only over the rows that passed the filter), so the client splits a
-- partition into exact groups by exactly the equality the unique index enforces: case, and
-- trailing spaces under PAD SPACE collations such as utf8mb4_unicode_ci. (WEIGHT_STRING
-- would not do: it keeps trailing spaces that the index ignores.)
-- COUNT(*) OVER () carries the number of sequence messages scanned on every row.
SELECT id, sequence_stepid, device_id, recipient_phone, sequence_id, status,
       UNIX_TIMESTAMP(created_at) AS created_ts, total_rows, phone_rank
FROM (
    SELECT id, sequence_stepid, device_id, recipient_phone, sequence_id, status, created_at, digits, total_rows,
           DENSE_RANK() OVER (PARTITION BY sequence_stepid, device_id, digits ORDER BY recipient_phone) AS phone_rank
    FROM (
        SELECT id, sequence_stepid, device_id, recipient_phone, sequence_id, status, created_at, digits,
               COUNT(*) OVER (PARTITION BY sequence_stepid, device_id, digits) AS near_rows,
               COUNT(*) OVER () AS total_rows
        FROM (
            SELECT id, sequence_stepid, device_id, recipient_phone, sequence_id, status, created_at,
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
