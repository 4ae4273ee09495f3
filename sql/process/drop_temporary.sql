DROP TEMPORARY TABLE IF EXISTS seqfix_process_due, seqfix_process_keys, seqfix_process_leads, seqfix_process_steps
