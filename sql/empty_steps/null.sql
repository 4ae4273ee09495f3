-- Second statement of an --empty-steps-to-null batch, in the same transaction as
-- archive.sql: the locked rows whose step is still empty get NULL, the application's other
-- spelling of "no sequence", which the unique index never holds equal; and only those whose
-- copy this run put in the archive and this transaction sees there (joined by run id and
-- id). The caller requires as many rows changed as were archived, else it rolls back.
UPDATE {table} AS t
JOIN {archive} AS a ON a.seqfix_run_id = ? AND a.id = t.id
SET t.sequence_stepid = NULL
WHERE t.id IN ({ids}) AND t.sequence_stepid = ''
