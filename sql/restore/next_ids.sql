-- The next batch of a run's archived rows after the last id of the previous batch, locked
-- for the batch transaction (the archive's primary key starts with seqfix_run_id, so this
-- reads only that run's rows), and whether each was changed in place (a
-- --empty-steps-to-null run archives a row with its own id as seqfix_kept_id; a dedupe's
-- victim names another row) rather than deleted.
SELECT id, seqfix_kept_id = id AS in_place
FROM {archive} WHERE seqfix_run_id = ? AND id > ? ORDER BY id LIMIT ? FOR UPDATE
