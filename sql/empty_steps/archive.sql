-- First statement of an --empty-steps-to-null batch: lock the batch's rows by primary key
-- and copy those whose step is still empty into the archive (every column the server
-- reports), marked as changed in place: seqfix_kept_id is the row's own id (a dedupe's
-- victim always names another row), which is how `restore` knows to set the step back
-- rather than insert the row. `FOR UPDATE` reads the latest committed version and locks it,
-- so what is copied is what null.sql then changes.
INSERT INTO {archive} ({columns}, seqfix_run_id, seqfix_kept_id, seqfix_archived_at)
SELECT {columns}, ?, id, NOW(6)
FROM {table}
WHERE id IN ({ids}) AND sequence_stepid = ''
FOR UPDATE
