SELECT COUNT(*) FROM seqfix_process_due
