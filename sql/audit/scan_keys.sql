-- The scan of scan.sql for a table that already has the unique index on
-- (sequence_stepid, recipient_phone, device_id): exact copies cannot exist, so only the
-- key columns are read, which the server can take from that index alone (a covering
-- index scan) instead of the whole rows. What remains to find are near-duplicates. The
-- candidate filter and its parameters are those of scan.sql.
SELECT id, sequence_stepid, device_id, recipient_phone, NULL AS sequence_id, NULL AS status,
       NULL AS created_ts,
       WEIGHT_STRING(sequence_stepid) AS step_weight,
       WEIGHT_STRING(device_id) AS device_weight,
       WEIGHT_STRING(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(
           recipient_phone, ' ', ''), '-', ''), '+', ''), '(', ''), ')', ''), '.', ''), '/', '')) AS digits_weight,
       WEIGHT_STRING(recipient_phone) AS phone_weight
FROM {table}
WHERE sequence_stepid IS NOT NULL
  AND CRC32(CONCAT(TRIM(TRAILING CAST(? AS BINARY) FROM WEIGHT_STRING(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(
          recipient_phone, ' ', ''), '-', ''), '+', ''), '(', ''), ')', ''), '.', ''), '/', ''))),
        0x00, TRIM(TRAILING CAST(? AS BINARY) FROM WEIGHT_STRING(sequence_stepid))))
  IN (SELECT h FROM (
        SELECT h, COUNT(*) OVER (PARTITION BY h) AS copies
        FROM (SELECT CRC32(CONCAT(TRIM(TRAILING CAST(? AS BINARY) FROM WEIGHT_STRING(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(
                  recipient_phone, ' ', ''), '-', ''), '+', ''), '(', ''), ')', ''), '.', ''), '/', ''))),
                0x00, TRIM(TRAILING CAST(? AS BINARY) FROM WEIGHT_STRING(sequence_stepid)))) AS h
              FROM {table}
              WHERE sequence_stepid IS NOT NULL) AS hashes) AS counted
      WHERE copies > 1)
