-- Remove the restored rows from the archive, in the same transaction as restore/insert.sql
-- (or restore/set_back.sql), and only those now present in the table as archived: the row
-- with that id exists and has the archived step (inserted back, or its empty step set
-- back). The caller requires the count removed to equal the count put back, else it rolls
-- back, so an archive row is never removed for a row that is not live again.
DELETE a FROM {archive} AS a
JOIN {table} AS t ON t.id = a.id AND t.sequence_stepid <=> a.sequence_stepid
WHERE a.seqfix_run_id = ? AND a.id IN ({ids})
