-- Second statement of a batch: copy the victims (every column the server reports for the
-- source table) into the archive, with the run id and the id of the survivor each one
-- duplicated. The rows are locked by lock_batch.sql, so they are copied as they will be
-- deleted.
INSERT INTO {archive} ({columns}, seqfix_run_id, seqfix_kept_id, seqfix_archived_at)
SELECT {columns}, ?, {kept_id}, NOW(6)
FROM {table}
WHERE id IN ({ids})
