-- Remove the restored rows from the archive, in the same transaction as restore/insert.sql.
DELETE FROM {archive} WHERE seqfix_run_id = ? AND id IN ({ids})
