DROP TEMPORARY TABLE IF EXISTS seqfix_process_probe
