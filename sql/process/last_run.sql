-- How long ago (server clock, microseconds) the last `process` run that processed started.
-- Skipped runs are never recorded, so they cannot push the next real run back. NULL when
-- there was none. Reads the (command, started_at) index.
SELECT TIMESTAMPDIFF(MICROSECOND, MAX(started_at), NOW(3))
FROM seqfix_runs
WHERE command = 'process' AND status IN ('running', 'succeeded', 'failed', 'interrupted')
