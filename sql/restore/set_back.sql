-- Undo of --empty-steps-to-null for a batch of archived rows: put the archived (empty) step
-- back, on rows that still exist and whose step is still the NULL the run set. A row the
-- application changed since keeps its new value and stays in the archive (restore/delete.sql
-- removes only the rows set back, which the caller names).
UPDATE {table} AS t
JOIN {archive} AS a ON a.id = t.id AND a.seqfix_run_id = ?
SET t.sequence_stepid = a.sequence_stepid
WHERE a.id IN ({ids}) AND t.sequence_stepid IS NULL
