UPDATE seqfix_runs SET status = ?, finished_at = CURRENT_TIMESTAMP(3), summary = ? WHERE run_id = ?
