-- The read-only scan of the sequence messages of {table}. The client (src/scan.rs) sorts
-- the rows it receives itself, in memory and in temporary files, and groups them.
--
-- The server supplies what only it can: the collation weights of the key columns
-- (WEIGHT_STRING), so that the client groups rows by exactly the equality the unique index
-- enforces (letter case, accents, ignorable characters, fullwidth forms; trailing spaces
-- are handled with the weight of a space, see sql/audit/collation.sql), and nothing else.
-- The fourth weight, the near weight (the near slot, near_phone.sql), is the phone's
-- weight without the weights of punctuation and spacing: rows whose near weights are
-- equal but whose phones differ are near-duplicates, which the unique index will not
-- catch. It is a function of the phone's weight, so phones equal under the collation
-- always have equal near weights: near-duplicate partitions are unions of exact groups.
--
-- Sequence messages are the rows whose step is neither NULL nor empty: the application
-- treats an empty step like NULL (no sequence), so those rows are never duplicates here;
-- audit reports them apart (empty_steps.sql). `<> ''` is compared under the column's
-- collation, as the unique index would: under PAD SPACE a step of spaces is empty too.
-- A NULL phone or device is never a duplicate either (a unique index never holds NULLs
-- equal), so those rows are left out too.
--
-- Only candidate rows are sent: those whose hash of (near weight, step weight) (the hash
-- slot, filled from sql/audit/candidate_hash.sql) occurs more than once. Rows that are
-- equal under the collation have equal weights once trailing space weights are trimmed, so
-- every row of every duplicate or near-duplicate group is sent; a hash collision only
-- sends rows that the client's exact grouping then finds alone. The server reads the table
-- twice (the hashes, counted by a window function, which sorts only the 4-byte hashes;
-- then the rows whose hash is among the repeated ones) but sends a small part of it (13%
-- of the rows in the benchmark's data): streaming every row to the client raised the
-- latency of the application's own writes several-fold on a small server
-- (docs/benchmarks.md). Asking the server to sort whole rows instead (a window function
-- partitioned by these keys) costs two to three times as much: it materialises and sorts
-- full-width rows.
--
-- The details slot is filled from details.sql, or from details_keys_only.sql when the
-- unique index exists (src/scan.rs, `query`, which also says how the ? are bound).
SELECT id, sequence_stepid, device_id, recipient_phone, {details},
       WEIGHT_STRING(sequence_stepid) AS step_weight,
       WEIGHT_STRING(device_id) AS device_weight,
       {near} AS near_weight,
       WEIGHT_STRING(recipient_phone) AS phone_weight
FROM {table}
WHERE sequence_stepid IS NOT NULL AND sequence_stepid <> ''
  AND recipient_phone IS NOT NULL AND device_id IS NOT NULL
  AND {hash}
  IN (SELECT h FROM (
        SELECT h, COUNT(*) OVER (PARTITION BY h) AS copies
        FROM (SELECT {hash} AS h
              FROM {table}
              WHERE sequence_stepid IS NOT NULL AND sequence_stepid <> ''
                AND recipient_phone IS NOT NULL AND device_id IS NOT NULL) AS hashes) AS counted
      WHERE copies > 1)
