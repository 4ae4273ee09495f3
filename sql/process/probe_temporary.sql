-- Privilege probe: the pass keeps its snapshot in temporary tables (CREATE TEMPORARY TABLES).
CREATE TEMPORARY TABLE seqfix_process_probe (x INT)
