-- The rows `dedupe --empty-steps-to-null` sets to NULL: those whose sequence_stepid is the
-- empty string (compared under the column's collation, as the unique index compares it),
-- in primary-key order so that consecutive batches touch neighbouring pages. A plain read:
-- each batch locks its rows and checks again (archive.sql, null.sql).
SELECT id FROM {table} WHERE sequence_stepid = '' ORDER BY id
