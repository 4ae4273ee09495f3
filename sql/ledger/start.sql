INSERT INTO seqfix_runs (run_id, command, host, pid, db_user, seqfix_version, status)
VALUES (?, ?, ?, ?, ?, ?, 'running')
