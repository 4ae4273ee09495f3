DROP TEMPORARY TABLE IF EXISTS seqfix_process_due, seqfix_process_leads
