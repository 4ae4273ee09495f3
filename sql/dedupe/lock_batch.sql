-- When lock_and_archive.sql copied fewer rows than the batch holds, the batch is rolled back
-- and redone from here. First statement: lock the batch's victims AND their survivors by
-- primary key (only these rows: `id IN (...)` is a set of unique-key lookups), and say
-- which of them still share a duplicate key, with what the survivor rule looks at (status,
-- and created_at in microseconds: the created_us slot, sql/audit/created_us_*.sql), so the
-- client decides each group again on the rows as they are now (src/dedupe/batch.rs, `decide`).
--
-- DENSE_RANK over (sequence_stepid, recipient_phone, device_id) gives rows whose keys are
-- equal under the columns' collation the same number: the window's ORDER BY compares with
-- the collation exactly as the unique index will (case, trailing spaces). Comparing the
-- strings in the client would not. A victim is deleted only when its rank equals its
-- survivor's; rows that no longer exist are simply absent from the result.
SELECT id, sequence_stepid IS NULL AS not_sequence,
       DENSE_RANK() OVER (ORDER BY sequence_stepid, recipient_phone, device_id) AS key_rank,
       status, {created_us} AS created_us
FROM {table}
WHERE id IN ({ids})
FOR UPDATE
