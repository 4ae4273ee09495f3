-- The one read-only pass over the sequence messages of {table}: a plain scan, no sort, no
-- self-join, no window function. The client (src/scan.rs) sorts the rows itself, in memory
-- and in temporary files, and groups them.
--
-- The server supplies what only it can: the collation weights of the key columns
-- (WEIGHT_STRING), so that the client groups rows by exactly the equality the unique index
-- enforces (letter case, accents, ignorable characters; trailing spaces are handled with
-- the weight of a space, see sql/audit/collation.sql). The fourth weight is of the phone
-- without punctuation and spaces: rows whose phones differ only in those are
-- near-duplicates, which the unique index will not catch.
-- Asking the server to sort instead (a window function partitioned by these keys) costs
-- two to three times as much: it materialises and sorts full-width rows.
SELECT id, sequence_stepid, device_id, recipient_phone, sequence_id, status,
       UNIX_TIMESTAMP(created_at) AS created_ts,
       WEIGHT_STRING(sequence_stepid) AS step_weight,
       WEIGHT_STRING(device_id) AS device_weight,
       WEIGHT_STRING(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(
           recipient_phone, ' ', ''), '-', ''), '+', ''), '(', ''), ')', ''), '.', ''), '/', '')) AS digits_weight,
       WEIGHT_STRING(recipient_phone) AS phone_weight
FROM {table}
WHERE sequence_stepid IS NOT NULL
