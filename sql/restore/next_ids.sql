-- The next batch of a run's archived rows, locked for the batch transaction (the archive's
-- primary key starts with seqfix_run_id, so this reads only that run's rows).
SELECT id FROM {archive} WHERE seqfix_run_id = ? ORDER BY id LIMIT ? FOR UPDATE
