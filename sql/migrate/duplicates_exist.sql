-- Preflight: does any (sequence_stepid, recipient_phone, device_id) occur twice? Compared
-- with the columns' collation, exactly as the unique index will compare them; rows with a
-- NULL in a key column are left out because a unique index never counts them as equal, and
-- rows with an empty step because they are no sequence (sql/audit/empty_steps.sql counts
-- those that would collide; dedupe does not remove them).
-- One full pass; COUNT(DISTINCT) keeps only the distinct keys (in memory with the session's
-- raised tmp_table_size), which is cheaper than a GROUP BY that also counts every group.
SELECT COUNT(*) - COUNT(DISTINCT sequence_stepid, recipient_phone, device_id)
FROM {table}
WHERE sequence_stepid IS NOT NULL AND sequence_stepid <> '' AND recipient_phone IS NOT NULL AND device_id IS NOT NULL
