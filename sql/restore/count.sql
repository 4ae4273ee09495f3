-- How many rows a run left in the archive, by status.
SELECT status, COUNT(*) FROM {archive} WHERE seqfix_run_id = ? GROUP BY status ORDER BY status
