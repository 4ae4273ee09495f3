-- One run's status, read again after its lock was found free: a run that finished in
-- between has closed its row by now (runs close their row before they free their lock).
SELECT status FROM seqfix_runs WHERE run_id = ?
