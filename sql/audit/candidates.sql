-- The candidate rows of the scan (src/scan/confirm.rs), read again by id (the ids slot: one
-- ? per id, at most a thousand, in primary-key order, so each statement is a short walk of
-- the clustered index): the rows whose fingerprint the walk (chunk.sql) saw more than once.
--
-- The server supplies what only it can: the collation weights of the key columns
-- (WEIGHT_STRING), so that the client groups rows by exactly the equality the unique index
-- enforces (letter case, accents, ignorable characters, fullwidth forms; trailing spaces
-- are handled with the weight of a space, see collation.sql), and nothing else. The
-- fourth weight, the near weight (the near slot, near_phone.sql), is the phone's weight
-- without the weights of punctuation and spacing: rows whose near weights are equal but
-- whose phones differ are near-duplicates, which the unique index will not catch.
--
-- The conditions of a sequence message that may have copies are asked again (a row can
-- change between the walk and this read): the step neither NULL nor empty, under the
-- column's collation; phone and device not NULL.
--
-- The details slot is filled from details.sql, or from details_keys_only.sql when the
-- unique index exists (src/scan/confirm.rs, `query`, which also says how the ? are bound).
SELECT id, sequence_stepid, device_id, recipient_phone, {details},
       WEIGHT_STRING(sequence_stepid) AS step_weight,
       WEIGHT_STRING(device_id) AS device_weight,
       {near} AS near_weight,
       WEIGHT_STRING(recipient_phone) AS phone_weight
FROM {table}
WHERE id IN ({ids})
  AND sequence_stepid IS NOT NULL AND sequence_stepid <> ''
  AND recipient_phone IS NOT NULL AND device_id IS NOT NULL
