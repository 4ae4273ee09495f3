-- The read-only scan of the sequence messages of {table}. The client (src/scan.rs) sorts
-- the rows it receives itself, in memory and in temporary files, and groups them.
--
-- The server supplies what only it can: the collation weights of the key columns
-- (WEIGHT_STRING), so that the client groups rows by exactly the equality the unique index
-- enforces (letter case, accents, ignorable characters; trailing spaces are handled with
-- the weight of a space, see sql/audit/collation.sql). The fourth weight is of the phone
-- without punctuation and spaces: rows whose phones differ only in those are
-- near-duplicates, which the unique index will not catch.
--
-- Only candidate rows are sent: those whose hash of (phone digits, step) weights (the hash
-- slot, filled from sql/audit/candidate_hash.sql) occurs more than once. Rows that are equal under the
-- collation have equal weights once trailing space weights are trimmed (its two ? are bound
-- for each of its two uses), so every row of every duplicate or
-- near-duplicate group is sent; a hash collision only sends rows that the client's exact
-- grouping then finds alone. The server reads the table twice (the hashes, counted by a
-- window function, which sorts only the 4-byte hashes; then the rows whose hash is among
-- the repeated ones) but sends a small part of it (13% of the rows in the benchmark's
-- data): streaming every row to the client raised the latency of the application's own
-- writes several-fold on a small server (docs/benchmarks.md).
-- Asking the server to sort whole rows instead (a window function partitioned by these
-- keys) costs two to three times as much: it materialises and sorts full-width rows.
--
-- The details slot is filled from details.sql, or from details_keys_only.sql when the
-- unique index exists; the digits slot from phone_digits.sql (src/scan.rs, `query`).
SELECT id, sequence_stepid, device_id, recipient_phone, {details},
       WEIGHT_STRING(sequence_stepid) AS step_weight,
       WEIGHT_STRING(device_id) AS device_weight,
       WEIGHT_STRING({digits}) AS digits_weight,
       WEIGHT_STRING(recipient_phone) AS phone_weight
FROM {table}
WHERE sequence_stepid IS NOT NULL
  AND {hash}
  IN (SELECT h FROM (
        SELECT h, COUNT(*) OVER (PARTITION BY h) AS copies
        FROM (SELECT {hash} AS h
              FROM {table}
              WHERE sequence_stepid IS NOT NULL) AS hashes) AS counted
      WHERE copies > 1)
